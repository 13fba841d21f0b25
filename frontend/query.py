"""The records a block shows a person: rows they may read, the screen's segment and filter,
the filters and order they chose, in one query the condition compiler writes.

Every condition (the segment, the block's filter, the person's filters) goes through the
permission layer's ``condition_problems`` first, as GraphQL's filters do: a list must not
tell anything about a field or a record the person may not read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, QuerySet
from django.db.models.expressions import RawSQL

from tessera.api.permissions import Policy
from tessera.conditions.compiler import compile_condition
from tessera.conditions.tree import parse
from tessera.definitions.cache import published
from tessera.definitions.errors import ValidationFailed
from tessera.definitions.fields.base import SqlType
from tessera.plugins import field_types
from tessera.records.indexes import field_expression
from tessera.records.models import Record

TEXT_LIKE = {"string", "text", "email", "phone", "url"}
RANGED = {"integer", "decimal", "money", "date", "datetime"}


class BlockProblem(Exception):
    """A block cannot be shown to this person as configured; the message says why."""


def object_body(key: Any) -> dict[str, Any] | None:
    if not isinstance(key, str):
        return None
    definition = published("object", key)
    return definition.body if definition is not None else None


def sql_type(prop: dict[str, Any]) -> SqlType:
    try:
        return field_types.get(prop["x-type"]).sql_type
    except Exception:  # an uninstalled plugin's type: not sortable, not filterable
        return SqlType.NONE


@dataclass
class ObjectView:
    """An object as one person sees it: the fields they may read and write."""

    key: str
    body: dict[str, Any]
    policy: Policy
    readable: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, key: Any, policy: Policy) -> ObjectView:
        body = object_body(key)
        if body is None:
            raise BlockProblem(f"{key!r} is not a published object")
        if not policy.can(key, "read"):
            raise BlockProblem("no_access")
        names = list(body.get("properties", {}))
        denied = policy.denied_fields(key, names)
        return cls(key, body, policy, [n for n in names if n not in denied])

    @property
    def props(self) -> dict[str, dict[str, Any]]:
        return self.body.get("properties", {})

    @property
    def title_field(self) -> str | None:
        name = self.body.get("x-title-field")
        return name if name in self.readable else None

    def pick(self, names: Any, default: int = 6) -> list[str]:
        """The named fields this person may read (in order), or the first few readable ones."""
        if isinstance(names, list) and names:
            return [n for n in names if n in self.readable]
        first = [self.title_field] if self.title_field else []
        rest = [n for n in self.readable if n not in first and self.props[n]["x-type"] != "list"]
        return (first + rest)[:default]

    def writable(self, names: Any) -> list[str]:
        rights = self.policy.rights(self.key)
        wanted = names if isinstance(names, list) and names else list(self.props)
        return [n for n in wanted if n in self.props and rights.can_write_field(n)]


def _checked(view: ObjectView, tree: Any, what: str):
    try:
        node = parse(tree, view.key)
    except ValidationFailed as exc:
        raise BlockProblem(f"the {what} does not apply to {view.key}: {exc}") from exc
    problems = view.policy.condition_problems(node, view.key)
    if problems:
        raise BlockProblem(f"the {what} reads what you may not read: {', '.join(problems)}")
    return node


def narrowed(view: ObjectView, block: dict[str, Any], extra: list[Any] = ()) -> QuerySet:
    """The records of the block's object this person may read, in its segment and filters."""
    queryset = view.policy.rows(view.key, Record.objects.filter(object_key=view.key))
    conditions = []
    if isinstance(block.get("segment"), str):
        if published("segment", block["segment"]) is None:
            raise BlockProblem(f"segment {block['segment']!r} is not published")
        conditions.append(({"segment": block["segment"]}, "segment"))
    if block.get("filter"):
        conditions.append((block["filter"], "screen's filter"))
    conditions += [(tree, "filter") for tree in extra]
    for tree, what in conditions:
        node = _checked(view, tree, what)
        queryset = compile_condition(node, view.key).apply(queryset)
    return queryset


def person_filters(view: ObjectView, columns: list[str], params) -> tuple[list[Any], dict]:
    """The filters a person typed above a table, as conditions, and the values to show back.

    ``f.<field>`` (text contains, option or yes/no equals), ``f.<field>.min`` / ``.max`` for
    numbers and dates. Only the table's own columns are filterable.
    """
    leaves: list[Any] = []
    shown: dict[str, str] = {}
    for name in columns:
        prop = view.props[name]
        kind = prop["x-type"]
        value = (params.get(f"f.{name}") or "").strip()
        if value:
            shown[name] = value
            if kind in TEXT_LIKE:
                leaves.append({"field": name, "op": "contains", "value": value[:200]})
            elif kind == "enum":
                leaves.append({"field": name, "op": "eq", "value": value})
            elif kind == "boolean" and value in ("true", "false"):
                leaves.append({"field": name, "op": "eq", "value": value == "true"})
        if kind in RANGED:
            for end, op in (("min", "gte"), ("max", "lte")):
                raw = (params.get(f"f.{name}.{end}") or "").strip()
                if not raw:
                    continue
                shown[f"{name}.{end}"] = raw
                if kind in ("date", "datetime"):
                    leaves.append({"field": name, "op": op, "value": raw[:40]})
                else:
                    try:
                        leaves.append({"field": name, "op": op, "value": float(raw)})
                    except ValueError:
                        continue
    return ([{"all": leaves}] if leaves else []), shown


def ordered(view: ObjectView, queryset: QuerySet, sort: str | None) -> tuple[QuerySet, str]:
    """Order by a readable field (``name`` or ``-name``), newest first when none is given."""
    if sort:
        desc = sort.startswith("-")
        name = sort.lstrip("-")
        if name in view.readable and sql_type(view.props[name]) is not SqlType.NONE:
            expr = RawSQL(field_expression(name, sql_type(view.props[name])), [])
            order = expr.desc(nulls_last=True) if desc else expr.asc(nulls_last=True)
            return queryset.order_by(order, "-id" if desc else "id"), sort
    return queryset.order_by(F("id").desc()), ""


def titles(object_key: str, ids: set[int], policy: Policy) -> dict[int, str]:
    """Names of related records, for the ones this person may read."""
    body = object_body(object_key)
    if not ids or body is None or not policy.can(object_key, "read"):
        return {}
    title = body.get("x-title-field")
    if title and policy.denied_fields(object_key, [title]):
        title = None
    rows = policy.rows(object_key, Record.objects.filter(object_key=object_key, pk__in=ids))
    return {
        pk: str((data or {}).get(title) or f"#{pk}") for pk, data in rows.values_list("pk", "data")
    }
