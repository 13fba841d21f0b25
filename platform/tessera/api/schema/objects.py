"""The GraphQL types of one published object: record, connection, input, filters, order.

Types are plain graphene classes made per schema build (no global registry), so two
revisions of an object can live in two schemas side by side. Relations name other
objects' types lazily, through the build, since objects may point at each other.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import graphene

from .. import names
from ..scalars import JSON, Decimal
from . import common, ordering, resolvers
from .common import (
    BooleanFilter,
    CountFilter,
    DateFilter,
    ListFilter,
    NumberFilter,
    PageInfoType,
    TextFilter,
    TimelineEntry,
)
from .scalars_for import scalar_for
from .specs import FieldSpec, ObjectSpec

FILTER_FOR_KIND = {
    "text": TextFilter,
    "number": NumberFilter,
    "boolean": BooleanFilter,
    "date": DateFilter,
    "datetime": DateFilter,
    "list": ListFilter,
}


def _class(base, name: str, attrs: dict[str, Any], description: str | None = None):
    meta = type("Meta", (), {"name": name, "description": description})
    return type(name, (base,), {"Meta": meta, **attrs})


def _label(spec: ObjectSpec) -> str | None:
    label = spec.label
    if isinstance(label, dict):
        return label.get("en") or next(iter(label.values()), None)
    return label if isinstance(label, str) else None


class ObjectTypes:
    """Every generated type of one object, made by ``build``."""

    def __init__(self, build, spec: ObjectSpec):
        self.build, self.spec = build, spec
        self.name = spec.type_name
        self.enums: dict[str, type[graphene.Enum]] = {}
        self.enum_filters: dict[str, Any] = {}
        self.members: dict[str, dict[str, Any]] = {}
        for field in spec.fields.values():
            if field.options:
                self._enum(field)
        self.order_by = graphene.Enum(f"{self.name}OrderBy", ordering.enum_values(spec))
        self.node = self._node()
        self.edge = _class(
            graphene.ObjectType,
            f"{self.name}Edge",
            {
                "cursor": graphene.String(required=True),
                "node": graphene.Field(self.node, required=True),
            },
        )
        self.connection = _class(
            graphene.ObjectType,
            f"{self.name}Connection",
            {
                "edges": graphene.List(graphene.NonNull(self.edge), required=True),
                "nodes": graphene.List(graphene.NonNull(self.node), required=True),
                "page_info": graphene.Field(PageInfoType, required=True),
                "total_count": graphene.Int(required=True),
            },
        )
        self.input = self._input()
        self.fields_filter = self._filter(f"{self.name}FieldsFilter", related=False)
        self.filter = self._filter(f"{self.name}Filter", related=True)
        self.related_filter = _class(
            graphene.InputObjectType,
            f"{self.name}RelatedFilter",
            {
                "where": graphene.InputField(self.filter),
                "count": graphene.InputField(CountFilter),
                "window": graphene.String(description="only records in this duration, e.g. P90D"),
            },
            f"How many related {self.name} records (matching where) there are",
        )
        self.payload = _class(
            graphene.ObjectType,
            f"{self.name}Payload",
            {
                "record": graphene.Field(self.node),
                "errors": graphene.List(graphene.NonNull(self.build.field_error), required=True),
            },
        )
        self.group_by, self.group = self._aggregate_types()

    def _enum(self, field: FieldSpec) -> None:
        values = names.enum_values(field.options)
        enum = graphene.Enum(f"{self.name}{names.pascal(field.prop)}", list(values.items()))
        self.enums[field.prop] = enum
        python_enum: type[Enum] = enum._meta.enum
        self.members[field.prop] = {m.value: m for m in python_enum}
        if field.shape == "enum":
            self.enum_filters[field.prop] = _class(
                graphene.InputObjectType,
                f"{self.name}{names.pascal(field.prop)}Filter",
                {
                    "eq": graphene.InputField(enum),
                    "ne": graphene.InputField(enum),
                    "in_": graphene.List(graphene.NonNull(enum), name="in"),
                    "not_in": graphene.List(graphene.NonNull(enum)),
                    "is_empty": graphene.Boolean(),
                },
            )

    def _scalar(self, field: FieldSpec):
        if field.prop in self.enums:
            return self.enums[field.prop]
        prop = field.info.prop
        if field.shape == "list":
            items = prop.get("items") or {}
            return scalar_for(items.get("x-type", ""), field.json_type, items)
        return scalar_for(prop["x-type"], field.json_type, prop)

    def _output(self, field: FieldSpec) -> graphene.Field:
        build, target = self.build, field.target
        if field.shape == "relation":
            return graphene.Field(
                lambda: build.types[target].node,
                name=field.gql,
                resolver=resolvers.relation(field, lambda: build.objects[target].prop_names),
            )
        if field.shape == "relations":
            return graphene.List(
                lambda: graphene.NonNull(build.types[target].node),
                name=field.gql,
                resolver=resolvers.relation_list(field, lambda: build.objects[target].prop_names),
            )
        scalar = self._scalar(field)
        if field.shape == "enum":
            return graphene.Field(
                scalar, name=field.gql, resolver=resolvers.enum(field, self.members[field.prop])
            )
        if field.shape == "multi_enum":
            return graphene.List(
                graphene.NonNull(scalar),
                name=field.gql,
                resolver=resolvers.enum_list(field, self.members[field.prop]),
            )
        if field.shape == "list":
            return graphene.List(scalar, name=field.gql, resolver=resolvers.plain(field))
        return graphene.Field(scalar, name=field.gql, resolver=resolvers.plain(field))

    def _node(self):
        from . import record_fields

        attrs: dict[str, Any] = {
            "id": graphene.ID(required=True),
            "version": graphene.Int(required=True),
            "created_at": graphene.String(required=True),
            "updated_at": graphene.String(required=True),
            "timeline": graphene.List(
                graphene.NonNull(TimelineEntry),
                required=True,
                first=graphene.Int(default_value=50),
                resolver=record_fields.timeline(self.spec),
            ),
        }
        for field in self.spec.fields.values():
            attrs[f"f_{field.prop}"] = self._output(field)
        for name, incoming in self.spec.info.incoming.items():
            attrs[f"r_{name}"] = record_fields.reverse_field(self.build, self.spec, incoming)
        return _class(
            graphene.ObjectType,
            self.name,
            attrs
            | {"resolve_created_at": _iso("created_at"), "resolve_updated_at": _iso("updated_at")},
            _label(self.spec),
        )

    def _input_type(self, field: FieldSpec):
        if field.shape == "relation":
            return graphene.ID
        if field.shape == "relations":
            return graphene.List(graphene.NonNull(graphene.ID))
        scalar = self._scalar(field)
        if field.shape in ("multi_enum", "list"):
            return graphene.List(scalar if field.shape == "list" else graphene.NonNull(scalar))
        return scalar

    def _input(self):
        attrs = {}
        for field in self.spec.fields.values():
            kind = self._input_type(field)
            attrs[f"f_{field.prop}"] = graphene.InputField(kind, name=field.gql)
        return _class(graphene.InputObjectType, f"{self.name}Input", attrs)

    def _field_filter(self, field: FieldSpec, related: bool):
        name = filter_name(field.gql)
        if field.shape == "relation" and related:
            build, target = self.build, field.target
            return graphene.InputField(lambda: build.types[target].fields_filter, name=name)
        if field.shape == "enum":
            return graphene.InputField(self.enum_filters[field.prop], name=name)
        return graphene.InputField(FILTER_FOR_KIND[field.kind], name=name)

    def _filter(self, name: str, related: bool):
        holder: dict[str, Any] = {}
        attrs: dict[str, Any] = {
            "all": graphene.List(graphene.NonNull(lambda: holder["type"])),
            "any": graphene.List(graphene.NonNull(lambda: holder["type"])),
            "not": graphene.InputField(lambda: holder["type"]),
        }
        if not related:
            attrs["id"] = graphene.InputField(NumberFilter)
        for field in self.spec.fields.values():
            attrs[f"f_{field.prop}"] = self._field_filter(field, related)
        if related:
            build = self.build
            for rel, incoming in self.spec.info.incoming.items():
                attrs[f"r_{rel}"] = graphene.InputField(
                    lambda source=incoming.source: build.types[source].related_filter,
                    name=filter_name(self.spec.reverse[rel]),
                )
        holder["type"] = _class(graphene.InputObjectType, name, attrs)
        return holder["type"]

    def _aggregate_types(self):
        groupable = [f for f in self.spec.fields.values() if f.orderable]
        numbers = [
            f for f in self.spec.fields.values() if f.kind == "number" and f.shape == "scalar"
        ]
        group_by = (
            graphene.Enum(
                f"{self.name}GroupBy",
                [(f.gql + "_" if f.gql == "mro" else f.gql, f.prop) for f in groupable],
            )
            if groupable
            else None
        )
        attrs: dict[str, Any] = {
            "key": graphene.String(description="the group's value; null for all records"),
            "count": graphene.Int(required=True),
        }
        if numbers:
            from . import aggregates

            totals = _class(
                graphene.ObjectType,
                f"{self.name}Totals",
                {
                    f"f_{f.prop}": graphene.Field(
                        Decimal, name=f.gql, resolver=aggregates.number(self.spec.key, f.prop)
                    )
                    for f in numbers
                },
            )
            attrs["sum"] = graphene.Field(totals, required=True)
            attrs["avg"] = graphene.Field(totals, required=True)
        return group_by, _class(graphene.ObjectType, f"{self.name}Group", attrs)


COMBINATORS = {"all", "any", "not", "id"}


def filter_name(name: str) -> str:
    """A field named like a filter's own keys (``all``, ``not``…) is filtered as ``all_``."""
    return name + "_" if name in COMBINATORS else name


def _iso(column: str):
    def resolve(root, info):
        return getattr(root, column).isoformat()

    return resolve


__all__ = ["JSON", "ObjectTypes", "common"]
