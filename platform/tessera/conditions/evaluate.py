"""The Python face: a parsed condition evaluated on one record and its related data.

Workflow guards, campaign branches and goals ask about one record at a time; this answers
without a query per leaf where it can, and always as the SQL face would (tests/conditions
hold the two faces together with a property test on both databases).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from tessera.definitions.fields.base import SqlType
from tessera.records.indexes import field_expression
from tessera.records.models import Event, Record

from . import stored
from .context import Clock
from .operators import NUMBER
from .tree import EventLeaf, FieldLeaf, Group, MetricLeaf, Node, Not, SegmentLeaf

COUNT_TESTS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


@dataclass
class Loader:
    """Fetches what a record's condition refers to, once per evaluation."""

    _related: dict[tuple[str, str, int], list[Record]] = field(default_factory=dict)
    _records: dict[int, Record | None] = field(default_factory=dict)
    _events: dict[int, list[Event]] = field(default_factory=dict)

    def related(self, source: str, field_name: str, record_id: int) -> list[Record]:
        key = (source, field_name, record_id)
        if key not in self._related:
            self._related[key] = list(_related_query(source, field_name, record_id))
        return self._related[key]

    def record(self, record_id: Any, object_key: str) -> Record | None:
        if not isinstance(record_id, int) or isinstance(record_id, bool):
            return None
        if record_id not in self._records:
            self._records[record_id] = Record.objects.filter(pk=record_id).first()
        found = self._records[record_id]
        return found if found is not None and found.object_key == object_key else None

    def events(self, record_id: int) -> list[Event]:
        if record_id not in self._events:
            self._events[record_id] = list(Event.objects.filter(subject_id=record_id))
        return self._events[record_id]


def _related_query(source: str, field_name: str, record_id: int):
    """The records of ``source`` whose relation field points at ``record_id`` (indexed)."""
    expr = field_expression(field_name, SqlType.NUMBER)
    param = Decimal(record_id) if connection.vendor == "postgresql" else record_id
    return Record.objects.filter(object_key=source).filter(
        RawSQL(f"{expr} = %s", [param], output_field=BooleanField())
    )


def evaluate(
    node: Node, record: Record, *, clock: Clock | None = None, loader: Loader | None = None
) -> bool:
    """Does ``record`` meet the condition?"""
    return _eval(node, record, clock or Clock(), loader or Loader())


def _eval(node: Node, record: Record, clock: Clock, loader: Loader) -> bool:
    if isinstance(node, Group):
        results = (_eval(c, record, clock, loader) for c in node.children)
        return all(results) if node.op == "all" else any(results)
    if isinstance(node, Not):
        return not _eval(node.child, record, clock, loader)
    if isinstance(node, SegmentLeaf):
        if node.stored:
            return stored.reader().contains(node.key, record.pk)
        return _eval(node.condition, record, clock, loader)
    if isinstance(node, FieldLeaf):
        return _field(node, record, clock, loader)
    if isinstance(node, MetricLeaf):
        return _metric(node, record, clock, loader)
    if isinstance(node, EventLeaf):
        return _event(node, record, clock, loader)
    raise TypeError(f"cannot evaluate {node!r}")


def _field(node: FieldLeaf, record: Record, clock: Clock, loader: Loader) -> bool:
    data = record.data
    if node.via is not None:
        target = loader.record(data.get(node.via.name), node.via_object)
        if target is None:
            return False
        data = target.data
    value = node.operator.prepare(node.value, node.field.kind, clock)
    return node.operator.test(data.get(node.field.name), value, node.field.kind)


def _number(value: Any) -> Decimal:
    return Decimal(str(value))


def _metric(node: MetricLeaf, record: Record, clock: Clock, loader: Loader) -> bool:
    rows = loader.related(node.incoming.source, node.incoming.field, record.pk)
    if node.window:
        bound = clock.date_value({"ago": node.window}, node.time_field.kind)
        name = node.time_field.name
        rows = [r for r in rows if isinstance(r.data.get(name), str) and r.data[name] >= bound]
    if node.where is not None:
        rows = [r for r in rows if _eval(node.where, r, clock, loader)]
    value = node.operator.prepare(node.value, node.kind, clock)
    if node.aggregate == "count":
        actual: Any = len(rows)
    elif node.aggregate in ("first", "last"):
        times = [
            r.data[node.time_field.name]
            for r in rows
            if r.data.get(node.time_field.name) is not None
        ]
        actual = (min if node.aggregate == "first" else max)(times) if times else None
    else:
        values = [r.data[node.field.name] for r in rows if r.data.get(node.field.name) is not None]
        if node.aggregate == "sum":
            actual = sum((_number(v) for v in values), Decimal(0))
        elif not values:
            actual = None
        elif node.aggregate == "avg":
            actual = sum(_number(v) for v in values) / len(values)
        else:
            pick = min if node.aggregate == "min" else max
            actual = pick(_number(v) for v in values) if node.kind == NUMBER else pick(values)
    if node.kind == NUMBER and actual is not None:
        actual = _number(actual)
        value = [_number(v) for v in value] if isinstance(value, list) else _number(value)
    return node.operator.test(actual, value, node.kind)


def _event(node: EventLeaf, record: Record, clock: Clock, loader: Loader) -> bool:
    since = clock.shifted(node.within, -1) if node.within else None
    count = 0
    for event in loader.events(record.pk):
        if event.type != node.type or (since is not None and event.occurred_at < since):
            continue
        if all(_same_json(event.payload.get(k), v) for k, v in node.where.items()):
            count += 1
    if node.count_op is None:
        return count >= 1
    return COUNT_TESTS[node.count_op](count, node.count_value)


def _same_json(actual: Any, expected: Any) -> bool:
    return type(actual) is type(expected) and actual == expected


__all__ = ["Loader", "evaluate"]
