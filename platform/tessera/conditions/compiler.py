"""The SQL face: a parsed condition compiled to one WHERE clause over ``records_record``.

The SQL is written as a person would write it by hand: a leaf on an indexed field is the
indexed expression compared with a parameter, aggregates are correlated subqueries on the
relation index, events an EXISTS on the event index. Under a NOT, leaves are wrapped in
COALESCE(…, FALSE) so a missing value stays "no match" instead of SQL's unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from tessera.definitions.durations import iso_datetime
from tessera.definitions.fields.base import SqlType
from tessera.records import rollups
from tessera.records.models import Record

from . import stored
from .context import Clock, SqlContext
from .operators import LIST, NUMBER
from .sql import value_expr
from .tree import EventLeaf, FieldLeaf, Group, MetricLeaf, Node, Not, SegmentLeaf

OUTER = "records_record"
_SQL_TYPES = {
    "text": SqlType.TEXT,
    "number": SqlType.NUMBER,
    "boolean": SqlType.BOOLEAN,
    "date": SqlType.DATE,
    "datetime": SqlType.DATETIME,
}
COUNT_SYMBOLS = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


@dataclass
class CompiledCondition:
    sql: str
    params: list[Any]

    def apply(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(RawSQL(self.sql, self.params, output_field=BooleanField()))


def compile_condition(
    node: Node,
    object_key: str,
    *,
    clock: Clock | None = None,
    vendor: str = "",
    use_rollups: bool = True,
) -> CompiledCondition:
    """``use_rollups=False`` aggregates live even where a rollup is kept (tests, audits)."""
    ctx = SqlContext(clock or Clock(), vendor, use_rollups=use_rollups)
    sql = _node(node, OUTER, ctx, negated=False)
    return CompiledCondition(sql, ctx.params)


def matching(
    node: Node, object_key: str, *, clock: Clock | None = None, use_rollups: bool = True
) -> QuerySet:
    """The records of ``object_key`` that meet the condition, as one query."""
    compiled = compile_condition(node, object_key, clock=clock, use_rollups=use_rollups)
    return compiled.apply(Record.objects.filter(object_key=object_key))


def _node(node: Node, alias: str, ctx: SqlContext, negated: bool) -> str:
    if isinstance(node, Group):
        if not node.children:
            return "1 = 1" if node.op == "all" else "1 = 0"
        joiner = " AND " if node.op == "all" else " OR "
        return "(" + joiner.join(_node(c, alias, ctx, negated) for c in node.children) + ")"
    if isinstance(node, Not):
        return f"NOT ({_node(node.child, alias, ctx, not negated)})"
    if isinstance(node, SegmentLeaf):
        if node.stored:
            return stored.reader().sql(node.key, alias, ctx)
        return "(" + _node(node.condition, alias, ctx, negated) + ")"
    sql = _leaf(node, alias, ctx)
    # Under an odd number of NOTs a NULL must read as FALSE, or NOT would drop the row too.
    return f"COALESCE(({sql}), FALSE)" if negated else sql


def _leaf(node: Node, alias: str, ctx: SqlContext) -> str:
    if isinstance(node, FieldLeaf):
        return _field(node, alias, ctx)
    if isinstance(node, MetricLeaf):
        return _metric(node, alias, ctx)
    if isinstance(node, EventLeaf):
        return _event(node, alias, ctx)
    raise TypeError(f"cannot compile {node!r}")


def _field(node: FieldLeaf, alias: str, ctx: SqlContext) -> str:
    field, operator = node.field, node.operator
    value = operator.prepare(node.value, field.kind, ctx.clock)
    if node.via is None:
        expr = _expr(alias, field.name, field.kind, ctx)
        return operator.sql(expr, value, field.kind, ctx)
    inner = ctx.new_alias()
    link = _forward_id(alias, node.via.name, ctx)
    if field.kind == LIST:
        test = operator.sql(f"{inner}|{field.name}", value, field.kind, ctx)
    else:
        test = operator.sql(_expr(inner, field.name, field.kind, ctx), value, field.kind, ctx)
    return (
        f"EXISTS (SELECT 1 FROM records_record {inner} WHERE {inner}.id = {link} "
        f"AND {inner}.object_key = '{node.via_object}' AND {test})"
    )


def _expr(alias: str, field: str, kind: str, ctx: SqlContext) -> str:
    if kind == LIST:
        return f"{alias}|{field}"
    return value_expr(alias, field, _SQL_TYPES[kind], ctx.vendor)


def _forward_id(alias: str, field: str, ctx: SqlContext) -> str:
    if ctx.postgres:
        return f"CAST({alias}.data ->> '{field}' AS bigint)"
    return f"json_extract({alias}.data, '$.{field}')"


def _metric(node: MetricLeaf, alias: str, ctx: SqlContext) -> str:
    value = node.operator.prepare(node.value, node.kind, ctx.clock)
    spec = None
    # windowed rollups are kept for the real now; a clock set elsewhere aggregates live
    if node.where is None and ctx.use_rollups and (not node.window or ctx.clock.is_real()):
        field = node.field.name if node.field else None
        spec = rollups.find(node.target, node.incoming.name, node.aggregate, field, node.window)
    if spec is not None:
        # A kept aggregate: one primary-key lookup per record instead of scanning its orders.
        r = ctx.new_alias()
        column = "value" if spec.numeric else "text_value"
        kept = (
            f"(SELECT {r}.{column} FROM records_rollup {r} "
            f"WHERE {r}.record_id = {alias}.id AND {r}.name = {ctx.param(spec.name)})"
        )
        if node.aggregate in ("count", "sum"):
            kept = f"COALESCE({kept}, 0)"
        return node.operator.sql(kept, value, node.kind, ctx)
    inner = ctx.new_alias()
    source = node.incoming.source
    link = value_expr(inner, node.incoming.field, SqlType.NUMBER, ctx.vendor)
    # SQLite: a unary + takes the INTEGER affinity off the outer id, without which the
    # comparison converts the indexed side and the relation's expression index goes unused
    # (every related record of the object was scanned once per record: 450x slower).
    outer = f"{alias}.id" if ctx.postgres else f"+{alias}.id"
    filters = [f"{inner}.object_key = '{source}'", f"{link} = {outer}"]
    if node.window:
        time_expr = _expr(inner, node.time_field.name, node.time_field.kind, ctx)
        bound = ctx.clock.date_value({"ago": node.window}, node.time_field.kind)
        filters.append(f"{time_expr} >= {ctx.param(bound)}")
    if node.where is not None:
        filters.append(_node(node.where, inner, ctx, negated=False))
    where = " AND ".join(filters)
    if node.aggregate == "count":
        aggregate = "COUNT(*)"
    elif node.aggregate in ("first", "last"):
        fn = "MIN" if node.aggregate == "first" else "MAX"
        aggregate = f"{fn}({_expr(inner, node.time_field.name, node.time_field.kind, ctx)})"
    else:
        expr = _expr(inner, node.field.name, node.field.kind, ctx)
        fn = node.aggregate.upper()
        aggregate = f"COALESCE(SUM({expr}), 0)" if fn == "SUM" else f"{fn}({expr})"
    subquery = f"(SELECT {aggregate} FROM records_record {inner} WHERE {where})"
    return node.operator.sql(subquery, value, node.kind, ctx)


def _event(node: EventLeaf, alias: str, ctx: SqlContext) -> str:
    e = ctx.new_alias()
    filters = [f"{e}.subject_id = {alias}.id", f"{e}.type = {ctx.param(node.type)}"]
    if node.within:
        filters.append(f"{e}.occurred_at >= {ctx.param(ctx.clock.shifted(node.within, -1))}")
    for key, value in sorted(node.where.items()):  # keys are checked [A-Za-z0-9_] by the parser
        if ctx.postgres:
            filters.append(f"{e}.payload -> '{key}' = CAST({ctx.param(_json(value))} AS jsonb)")
        else:
            json_type = "text" if isinstance(value, str) else "integer"
            filters.append(
                f"json_type({e}.payload, '$.{key}') = '{json_type}' AND "
                f"json_extract({e}.payload, '$.{key}') = {ctx.param(value)}"
            )
    where = " AND ".join(filters)
    if node.count_op is None:
        return f"EXISTS (SELECT 1 FROM records_event {e} WHERE {where})"
    symbol = COUNT_SYMBOLS[node.count_op]
    return (
        f"(SELECT COUNT(*) FROM records_event {e} WHERE {where}) {symbol} "
        f"{ctx.param(node.count_value, NUMBER)}"
    )


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


__all__ = ["CompiledCondition", "compile_condition", "iso_datetime", "matching"]
