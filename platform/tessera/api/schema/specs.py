"""What the schema needs to know about one published object's fields, in GraphQL terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tessera.conditions.objects import FieldInfo, ObjectInfo
from tessera.plugins import field_types

from .. import names


@dataclass
class FieldSpec:
    """One data field: its stored name, GraphQL name and how it reads and writes."""

    prop: str
    gql: str
    info: FieldInfo
    shape: str  # scalar | enum | multi_enum | relation | relations | list
    json_type: str  # the JSON Schema type its values have: string, integer, number…
    options: list[str] = field(default_factory=list)
    target: str | None = None

    @property
    def kind(self) -> str:
        """The condition language's family: text, number, boolean, date, datetime, list."""
        return self.info.kind

    @property
    def orderable(self) -> bool:
        return self.kind != "list"


@dataclass
class ObjectSpec:
    key: str
    type_name: str
    info: ObjectInfo
    label: Any
    fields: dict[str, FieldSpec]
    reverse: dict[str, str] = field(default_factory=dict)  # relation name → GraphQL name

    @property
    def prop_names(self) -> list[str]:
        return list(self.fields)


def _json_type(prop: dict[str, Any]) -> str:
    try:
        schema = field_types.get(prop["x-type"]).schema(prop)
    except Exception:  # a plugin type whose schema needs more than the property gives
        return "any"
    kind = schema.get("type")
    return kind if isinstance(kind, str) else "any"


def field_spec(name: str, info: FieldInfo) -> FieldSpec:
    prop = info.prop
    x_type = prop["x-type"]
    gql = names.field_name(name)
    if x_type == "relation":
        return FieldSpec(
            name, gql, info, "relation", "integer", target=prop["x-relation"]["object"]
        )
    if x_type == "enum":
        return FieldSpec(name, gql, info, "enum", "string", options=list(prop.get("enum", [])))
    if x_type == "multi_enum":
        return FieldSpec(name, gql, info, "multi_enum", "array", options=list(prop["enum"]))
    if x_type == "list":
        items = prop.get("items") or {}
        if items.get("x-type") == "relation":
            target = items["x-relation"]["object"]
            return FieldSpec(name, gql, info, "relations", "array", target=target)
        if items.get("x-type") == "enum":
            return FieldSpec(name, gql, info, "multi_enum", "array", options=list(items["enum"]))
        return FieldSpec(name, gql, info, "list", _json_type(items) if items else "any")
    return FieldSpec(name, gql, info, "scalar", _json_type(prop))


def object_spec(info: ObjectInfo, body: dict[str, Any], type_name: str) -> ObjectSpec:
    fields = {name: field_spec(name, f) for name, f in info.fields.items()}
    taken = {f.gql for f in fields.values()} | names.SYSTEM_FIELDS
    reverse = {}
    for rel in sorted(info.incoming):
        gql = rel
        while gql in taken:  # a data field already has the name: the relation gets a suffix
            gql += "_related"
        taken.add(gql)
        reverse[rel] = gql
    return ObjectSpec(info.key, type_name, info, body.get("x-label"), fields, reverse)


TYPE_SUFFIXES = (
    "", "Edge", "Connection", "Input", "FieldsFilter", "Filter", "RelatedFilter", "Payload",
    "OrderBy", "GroupBy", "Totals", "Group",
)  # fmt: skip


def type_names(base: str, info: ObjectInfo) -> set[str]:
    """Every GraphQL type name an object with this base name makes, to keep them unique."""
    out = {base + suffix for suffix in TYPE_SUFFIXES}
    for name, f in info.fields.items():
        options = f.prop.get("enum") or (f.prop.get("items") or {}).get("enum")
        if options:
            out |= {base + names.pascal(name), base + names.pascal(name) + "Filter"}
    return out
