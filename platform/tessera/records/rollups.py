"""Precomputed aggregates of related records: how a segment over 5M orders stays fast.

An object asks for them on its relation field::

    "customer": {"x-type": "relation",
                 "x-relation": {"object": "customer", "related_name": "orders",
                                "rollups": [{"aggregate": "count", "window": "P90D"},
                                            {"aggregate": "sum", "field": "total"},
                                            {"aggregate": "last"}]}}

Each rollup is kept per customer in ``records_rollup`` under a canonical name
(``orders.count@P90D``, ``orders.sum.total``, ``orders.last``). It is rebuilt set-based when
the order object is published, recomputed for the one or two customers a write to an order
touches (in the same transaction, so it is never stale), and, for windowed rollups, again
when the oldest order inside the window leaves it (``expires_at``, swept by the tick).
The conditions compiler reads a rollup whenever a metric leaf names exactly that aggregate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import connection
from django.utils import timezone

from tessera.definitions.cache import RevisionCache
from tessera.definitions.durations import iso_datetime, parse_duration
from tessera.definitions.fields.base import SqlType
from tessera.definitions.models import Definition, Status
from tessera.plugins import field_types

from .indexes import field_expression
from .models import Rollup

NUMERIC_AGGREGATES = {"count", "sum", "avg"}


@dataclass(frozen=True)
class RollupSpec:
    """One aggregate of ``source`` records, kept for each ``target`` record they link to."""

    target: str
    related_name: str
    source: str
    link_field: str
    aggregate: str
    field: str | None
    field_sql_type: SqlType | None
    window: str | None
    time_field: str | None
    time_sql_type: SqlType | None

    @property
    def name(self) -> str:
        return metric_name(self.related_name, self.aggregate, self.field, self.window)

    @property
    def numeric(self) -> bool:
        if self.aggregate in NUMERIC_AGGREGATES:
            return True
        return self.aggregate in ("min", "max") and self.field_sql_type is SqlType.NUMBER


def metric_name(related: str, aggregate: str, field: str | None, window: str | None) -> str:
    name = f"{related}.{aggregate}" + (f".{field}" if field else "")
    return name + (f"@{window}" if window else "")


def specs_of(source: str, body: dict[str, Any]) -> list[RollupSpec]:
    """The rollups an object definition (the side holding the relation) asks for."""
    properties = body.get("properties", {})
    time_field = body.get("x-time-field")
    time_type = None
    if time_field in properties:
        time_type = field_types.get(properties[time_field]["x-type"]).sql_type
    specs = []
    for name, prop in properties.items():
        relation = prop.get("x-relation") or {}
        if prop.get("x-type") != "relation":
            continue
        related = relation.get("related_name") or f"{source.replace('-', '_')}s"
        for rollup in relation.get("rollups", []):
            field = rollup.get("field")
            field_type = None
            if field in properties:
                field_type = field_types.get(properties[field]["x-type"]).sql_type
            specs.append(
                RollupSpec(
                    relation["object"],
                    related,
                    source,
                    name,
                    rollup["aggregate"],
                    field,
                    field_type,
                    rollup.get("window"),
                    time_field,
                    time_type,
                )
            )
    return specs


def spec_problems(body: dict[str, Any]) -> list[tuple[list[str | int], str, str]]:
    """What is wrong with the rollups of an object body, as (path, code, message)."""
    problems = []
    properties = body.get("properties", {})
    time_field = body.get("x-time-field")
    for name, prop in properties.items():
        for i, rollup in enumerate((prop.get("x-relation") or {}).get("rollups", [])):
            path = ["properties", name, "x-relation", "rollups", i]
            aggregate, field = rollup.get("aggregate"), rollup.get("field")
            if aggregate in ("sum", "avg", "min", "max"):
                if field not in properties:
                    problems.append(
                        (
                            [*path, "field"],
                            "unknown_field",
                            f"{aggregate} needs a field of this object",
                        )
                    )
                    continue
                sql_type = field_types.get(properties[field]["x-type"]).sql_type
                allowed = (
                    {SqlType.NUMBER}
                    if aggregate in ("sum", "avg")
                    else {SqlType.NUMBER, SqlType.DATE, SqlType.DATETIME}
                )
                if sql_type not in allowed:
                    problems.append(
                        (
                            [*path, "field"],
                            "wrong_type",
                            f"{aggregate} cannot aggregate a {properties[field]['x-type']} field",
                        )
                    )
            elif field is not None:
                problems.append(([*path, "field"], "invalid", f"{aggregate} takes no field"))
            needs_time = rollup.get("window") or aggregate in ("first", "last")
            if needs_time and time_field not in properties:
                problems.append(
                    (path, "no_time_field", "windows and first/last need the object's x-time-field")
                )
            window = rollup.get("window")
            if window is not None:
                try:
                    _interval(window)
                except ValueError as exc:
                    problems.append(([*path, "window"], "invalid", str(exc)))
    return problems


_cache = RevisionCache()


def _all_specs() -> list[RollupSpec]:
    specs: list[RollupSpec] = []
    for definition in Definition.objects.filter(kind="object", status=Status.PUBLISHED):
        specs.extend(specs_of(definition.key, definition.body))
    return specs


def published_specs() -> list[RollupSpec]:
    return _cache.get("specs", _all_specs)


def find(
    target: str, related: str, aggregate: str, field: str | None, window: str | None
) -> RollupSpec | None:
    """The published rollup for exactly this metric, if one is kept."""
    wanted = metric_name(related, aggregate, field, window)
    for spec in published_specs():
        if spec.target == target and spec.name == wanted:
            return spec
    return None


def _interval(window: str) -> relativedelta:
    return parse_duration(window)


def window_start(window: str, sql_type: SqlType | None) -> str:
    """The oldest time inside a window ending now, as the text the time field stores."""
    start = timezone.now() - parse_duration(window)
    return start.date().isoformat() if sql_type is SqlType.DATE else iso_datetime(start)


def compute(spec: RollupSpec, parent_ids: Iterable[int] | None = None) -> None:
    """Recompute ``spec`` for some parents (or all of them), set-based, in two statements."""
    ids = None if parent_ids is None else sorted({int(i) for i in parent_ids if i})
    if ids == []:
        return
    existing = Rollup.objects.filter(name=spec.name, record__object_key=spec.target)
    if ids is not None:
        existing = existing.filter(record_id__in=ids)
    existing.delete()
    postgres = connection.vendor == "postgresql"
    # the relation index's own expression, so one parent's recompute is an index lookup
    link = field_expression(spec.link_field, SqlType.NUMBER, connection.vendor).replace(
        "data", "s.data", 1
    )
    params: list[Any] = [spec.name]
    where = [f"s.object_key = '{spec.source}'", f"{link} IS NOT NULL"]
    time_expr = None
    if spec.time_field:
        time_expr = field_expression(
            spec.time_field, spec.time_sql_type, connection.vendor
        ).replace("data", "s.data", 1)
    if spec.window:
        where.append(f"{time_expr} >= %s")
        params.append(window_start(spec.window, spec.time_sql_type))
    if ids is not None:
        where.append(f"{link} IN ({', '.join(['%s'] * len(ids))})")
        params.extend(ids)
    value, text = "NULL", "NULL"
    if spec.aggregate == "count":
        value = "COUNT(*)"
    elif spec.aggregate in ("first", "last"):
        text = f"{'MIN' if spec.aggregate == 'first' else 'MAX'}({time_expr})"
    else:
        expr = field_expression(spec.field, spec.field_sql_type, connection.vendor).replace(
            "data", "s.data", 1
        )
        agg = f"{spec.aggregate.upper()}({expr})"
        if spec.numeric:
            value = agg
        else:
            text = agg
    expires = "NULL"
    if spec.window:
        if postgres:
            expires = f"CAST(MIN({time_expr}) AS timestamptz) + CAST(%s AS interval)"
        else:
            marks = ", ".join(["%s"] * len(_sqlite_modifiers(spec.window)))
            expires = f"datetime(MIN({time_expr}), {marks})"
    select_params = []
    if spec.window:
        select_params = [spec.window] if postgres else _sqlite_modifiers(spec.window)
    now = "now()" if postgres else "datetime('now')"
    sql = (
        "INSERT INTO records_rollup (record_id, name, value, text_value, expires_at, computed_at) "
        f"SELECT p.id, %s, {value}, {text}, {expires}, {now} "
        "FROM records_record s JOIN records_record p "
        f"ON p.id = {link} AND p.object_key = '{spec.target}' "
        f"WHERE {' AND '.join(where)} GROUP BY p.id"
    )
    # the SELECT's own placeholders (name, then expires) come before the WHERE's
    all_params = [params[0], *select_params, *params[1:]]
    with connection.cursor() as cursor:
        cursor.execute(sql, all_params)


def _sqlite_modifiers(window: str) -> list[str]:
    delta = _interval(window)
    parts = []
    for unit in ("years", "months", "days", "hours", "minutes", "seconds"):
        amount = getattr(delta, unit)  # relativedelta folds weeks into days
        if amount:
            parts.append(f"+{amount} {unit}")
    return parts or ["+0 days"]


def rebuild(source: str, body: dict[str, Any]) -> None:
    """Make the rollups of a just-published object match its definition exactly."""
    specs = specs_of(source, body)
    keep = {s.name for s in specs}
    targets = {s.target for s in specs} | _old_targets(source)
    for target in targets:
        prefix_names = {s.name for s in _all_specs() if s.source == source and s.target == target}
        stale = prefix_names - keep
        if stale:
            Rollup.objects.filter(name__in=stale, record__object_key=target).delete()
    for spec in specs:
        compute(spec)


def _old_targets(source: str) -> set[str]:
    return {s.target for s in _all_specs() if s.source == source}


def after_write(source: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    """A record of ``source`` was written: recompute the rollups of the parents it touches."""
    specs = [s for s in published_specs() if s.source == source]
    for spec in specs:
        parents = {before.get(spec.link_field), after.get(spec.link_field)}
        parents = {p for p in parents if isinstance(p, int) and not isinstance(p, bool)}
        if parents:
            compute(spec, parents)


def sweep_expired(limit: int = 5000) -> int:
    """Recompute windowed rollups whose oldest record has left the window (a tick step)."""
    due = list(
        Rollup.objects.filter(expires_at__lte=timezone.now())
        .order_by("expires_at")
        .values_list("name", "record_id", "record__object_key")[:limit]
    )
    by_spec: dict[RollupSpec, set[int]] = {}
    for name, record_id, target in due:
        spec = next((s for s in published_specs() if s.name == name and s.target == target), None)
        if spec is None:
            Rollup.objects.filter(name=name, record_id=record_id).delete()
            continue
        by_spec.setdefault(spec, set()).add(record_id)
    for spec, ids in by_spec.items():
        compute(spec, ids)
    return len(due)
