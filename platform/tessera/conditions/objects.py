"""What the condition language needs to know about an object: its fields and relations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tessera.definitions.cache import RevisionCache
from tessera.definitions.fields.base import SqlType
from tessera.definitions.models import Definition, Status
from tessera.plugins import field_types


@dataclass(frozen=True)
class FieldInfo:
    name: str
    x_type: str
    sql_type: SqlType
    prop: dict[str, Any]

    @property
    def kind(self) -> str:
        """The operator family of the field: text, number, boolean, date, datetime, list."""
        if self.sql_type is SqlType.NONE:
            return "list"
        return self.sql_type.value


@dataclass(frozen=True)
class Incoming:
    """A relation from another object to this one, seen from this side (``orders``)."""

    name: str
    source: str  # the object that holds the relation field
    field: str  # the relation field on the source


@dataclass
class ObjectInfo:
    key: str
    version: int
    fields: dict[str, FieldInfo]
    time_field: str | None
    incoming: dict[str, Incoming] = field(default_factory=dict)


_cache = RevisionCache()


def _build(key: str) -> ObjectInfo | None:
    published = {
        d.key: d for d in Definition.objects.filter(kind="object", status=Status.PUBLISHED)
    }
    definition = published.get(key)
    if definition is None:
        return None
    fields = {}
    for name, prop in definition.body.get("properties", {}).items():
        if prop["x-type"] not in field_types:
            continue
        fields[name] = FieldInfo(
            name, prop["x-type"], field_types.get(prop["x-type"]).sql_type, prop
        )
    info = ObjectInfo(key, definition.version, fields, definition.body.get("x-time-field"))
    for source in published.values():
        for name, prop in source.body.get("properties", {}).items():
            relation = prop.get("x-relation") or {}
            if prop["x-type"] == "relation" and relation.get("object") == key:
                reverse = relation.get("related_name") or f"{source.key.replace('-', '_')}s"
                info.incoming[reverse] = Incoming(reverse, source.key, name)
    return info


def object_info(key: str) -> ObjectInfo | None:
    """The published shape of an object, cached until the next publish."""
    return _cache.get(key, lambda: _build(key))
