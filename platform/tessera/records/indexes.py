"""Expression indexes for fields marked ``x-index`` / ``x-unique``, made and dropped on publish.

The expressions here are the ones the conditions compiler writes, character for character,
so the database can use them: on PostgreSQL ``(data ->> 'f')`` with a cast for numbers and
booleans (dates stay ISO text, which sorts as dates do, because text-to-date casts are not
immutable); on SQLite ``json_extract(data, '$.f')``. Each index is partial on the object.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.db import connection

from tessera.definitions.fields.base import SqlType
from tessera.plugins import field_types

TABLE = "records_record"


@dataclass(frozen=True)
class IndexSpec:
    """One expression index on the records of one object."""

    object_key: str
    fields: tuple[str, ...]
    sql_types: tuple[SqlType, ...]
    unique: bool

    @property
    def name(self) -> str:
        digest = hashlib.sha1(
            f"{self.object_key}|{'|'.join(self.fields)}|{self.unique}".encode()
        ).hexdigest()[:10]
        kind = "u" if self.unique else "i"
        return f"tsr{kind}_{object_tag(self.object_key)}_{'_'.join(self.fields)[:30]}_{digest}"


def object_tag(object_key: str) -> str:
    """A short fixed-width tag of the object in every index name, so names never collide."""
    return hashlib.sha1(object_key.encode()).hexdigest()[:8]


def field_expression(field: str, sql_type: SqlType, vendor: str | None = None) -> str:
    """The SQL expression of one field's value, as indexes and compiled conditions use it."""
    vendor = vendor or connection.vendor
    if vendor == "postgresql":
        text = f"(data ->> '{field}')"
        if sql_type is SqlType.NUMBER:
            return f"({text}::numeric)"
        if sql_type is SqlType.BOOLEAN:
            return f"({text}::boolean)"
        return text
    return f"json_extract(data, '$.{field}')"


def wanted_indexes(object_key: str, body: dict[str, Any]) -> set[IndexSpec]:
    """Every index an object definition asks for; relations are always indexed."""
    specs: set[IndexSpec] = set()
    properties = body.get("properties", {})
    for name, prop in properties.items():
        sql_type = field_types.get(prop["x-type"]).sql_type
        if sql_type is SqlType.NONE:
            continue
        if prop.get("x-unique"):
            specs.add(IndexSpec(object_key, (name,), (sql_type,), True))
        elif prop.get("x-index") or prop["x-type"] == "relation":
            specs.add(IndexSpec(object_key, (name,), (sql_type,), False))
    for group in body.get("x-unique-together", []):
        types = tuple(field_types.get(properties[f]["x-type"]).sql_type for f in group)
        specs.add(IndexSpec(object_key, tuple(group), types, True))
    return specs


def create_sql(spec: IndexSpec) -> str:
    columns = ", ".join(
        f"({field_expression(f, t)})" for f, t in zip(spec.fields, spec.sql_types, strict=True)
    )
    unique = "UNIQUE " if spec.unique else ""
    return (
        f'CREATE {unique}INDEX IF NOT EXISTS "{spec.name}" ON {TABLE} ({columns}) '
        f"WHERE object_key = '{spec.object_key}'"
    )


def drop_sql(name: str) -> str:
    return f'DROP INDEX IF EXISTS "{name}"'


def existing_index_names(object_key: str) -> set[str]:
    """Names of the expression indexes this module made for an object."""
    prefix = f"{object_tag(object_key)}_"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [TABLE])
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s", [TABLE]
            )
        names = {row[0] for row in cursor.fetchall()}
    return {n for n in names if n[:5] in ("tsri_", "tsru_") and n[5:].startswith(prefix)}


@dataclass(frozen=True)
class Clash:
    """One value that several records of an object share where an index wants it unique."""

    count: int
    record_ids: tuple[int, ...]  # the first few, in id order


def unique_clashes(
    spec: IndexSpec, *, limit: int = 5, examples: int = 5
) -> tuple[int, list[Clash]]:
    """Stored values that would make ``CREATE UNIQUE INDEX`` for ``spec`` fail.

    It groups by the very expressions the index is made of, so it sees exactly the clashes
    the database would (``1`` and ``"1"`` are one value on PostgreSQL, two on SQLite) and
    leaves out records where a field is empty, as both databases do in a unique index.
    Returns (how many records share a value, the first ``limit`` clashes).
    """
    exprs = [field_expression(f, t) for f, t in zip(spec.fields, spec.sql_types, strict=True)]
    present = " AND ".join(f"{e} IS NOT NULL" for e in exprs)
    grouped = (
        f"SELECT {', '.join(exprs)}, COUNT(*) AS n, MIN(id) AS first_id FROM {TABLE} "
        f"WHERE object_key = %s AND {present} GROUP BY {', '.join(exprs)} HAVING COUNT(*) > 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(SUM(g.n), 0) FROM ({grouped}) AS g", [spec.object_key])
        involved = int(cursor.fetchone()[0])
        if not involved:
            return 0, []
        cursor.execute(f"{grouped} ORDER BY first_id LIMIT {int(limit)}", [spec.object_key])
        groups = cursor.fetchall()
        clashes = []
        same = " AND ".join(f"{e} = %s" for e in exprs)
        for *values, count, _first in groups:
            cursor.execute(
                f"SELECT id FROM {TABLE} WHERE object_key = %s AND {same} "
                f"ORDER BY id LIMIT {int(examples)}",
                [spec.object_key, *values],
            )
            ids = tuple(row[0] for row in cursor.fetchall())
            clashes.append(Clash(int(count), ids))
    return involved, clashes


def sync_indexes(object_key: str, body: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Make the indexes the body asks for and drop the ones it no longer does.

    Runs inside the publishing transaction (DDL is transactional on both databases), so a
    refused publish leaves the indexes as they were. Returns (created, dropped) names.
    """
    wanted = {spec.name: spec for spec in wanted_indexes(object_key, body)}
    have = existing_index_names(object_key)
    created, dropped = [], []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and (set(wanted) ^ have):
            # Django's foreign keys are deferred; PostgreSQL refuses DDL on a table with
            # pending checks, which a migration in the same transaction leaves behind.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name in sorted(have - set(wanted)):
            cursor.execute(drop_sql(name))
            dropped.append(name)
        for name, spec in sorted(wanted.items()):
            if name not in have:
                cursor.execute(create_sql(spec))
                created.append(name)
    return created, dropped
