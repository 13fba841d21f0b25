"""RFM scoring: recency, frequency and monetary scores 1 to 5 and a named cell per customer.

Settings (one document per object, see docs/segments.md)::

    {"window": "P365D",
     "recency":   {"metric": "orders.last"},
     "frequency": {"metric": "orders.count"},
     "monetary":  {"metric": "orders.sum.total", "where": {"field": "status", "op": "ne",
                                                          "value": "cancelled"}},
     "fields": {"r": "rfm_r", "f": "rfm_f", "m": "rfm_m", "cell": "rfm_cell"},
     "every": "P1D"}

Each source is a metric of the condition language (``window`` and ``where`` as there;
the top-level ``window`` applies to frequency and monetary unless they name their own).
A record with no recency value (it never ordered) gets no scores and no cell.

Scores: by quantiles unless the dimension lists ``thresholds``. A quantile score is
``1 + floor(5 * (rank - 1) / n)`` over the n scored records ordered from worst to best
(oldest last order first; fewest orders, least money first), ties sharing the lower
score. Thresholds are four ascending boundaries for scores 2, 3, 4 and 5: durations for
recency (``["P30D", "P90D", "P180D", "P365D"]``: within 30 days scores 5, within 90
days 4 … older than 365 days 1), numbers for frequency and monetary (``[2, 3, 5, 8]``: 8
or more scores 5, 5 to 7 scores 4, … fewer than 2 scores 1).

The whole computation is one SQL query (the metrics compiled by the conditions compiler,
window functions for the quantiles); only records whose scores changed are written,
through ``writes.write_fields`` (versions, history and record observers as usual).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from django.db import connection

from tessera.conditions.compiler import compile_condition
from tessera.conditions.context import Clock
from tessera.conditions.operators import DATE, DATETIME, NUMBER, SCALARS, Operator
from tessera.conditions.sql import value_expr
from tessera.conditions.tree import MetricLeaf, parse
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.definitions.fields.base import SqlType

from . import scoring
from .membership import current_clock
from .models import ScoringSettings
from .writes import write_fields

DIMENSIONS = ("recency", "frequency", "monetary")
SHORT = {"recency": "r", "frequency": "f", "monetary": "m"}
FETCH = 5000
DEFAULT_FIELDS = {"r": "rfm_r", "f": "rfm_f", "m": "rfm_m", "cell": "rfm_cell"}

# The classic R/F grid; the first cell whose R and F lists hold the scores wins.
#          F=1            F=2            F=3            F=4          F=5
#   R=5    new_customers  potential_loy. potential_loy. champions    champions
#   R=4    promising      potential_loy. potential_loy. loyal        loyal
#   R=3    about_to_sleep about_to_sleep need_attention loyal        loyal
#   R=2    hibernating    hibernating    at_risk        at_risk      cant_lose
#   R=1    lost           hibernating    at_risk        at_risk      cant_lose
CLASSIC_CELLS: list[dict[str, Any]] = [
    {"name": "champions", "r": [5], "f": [4, 5]},
    {"name": "loyal", "r": [3, 4], "f": [4, 5]},
    {"name": "potential_loyalist", "r": [4, 5], "f": [2, 3]},
    {"name": "new_customers", "r": [5], "f": [1]},
    {"name": "promising", "r": [4], "f": [1]},
    {"name": "need_attention", "r": [3], "f": [3]},
    {"name": "about_to_sleep", "r": [3], "f": [1, 2]},
    {"name": "cant_lose", "r": [1, 2], "f": [5]},
    {"name": "at_risk", "r": [1, 2], "f": [3, 4]},
    {"name": "lost", "r": [1], "f": [1]},
    {"name": "hibernating", "r": [1, 2], "f": [1, 2]},
]

_SCORES = {
    "type": "array",
    "items": {"type": "integer", "minimum": 1, "maximum": 5},
    "minItems": 1,
    "maxItems": 5,
}
_SOURCE = {
    "type": "object",
    "required": ["metric"],
    "additionalProperties": False,
    "properties": {
        "metric": {"type": "string", "maxLength": 200},
        "window": {"type": "string", "maxLength": 40},
        "where": {"type": "object"},
        "thresholds": {"type": "array", "minItems": 4, "maxItems": 4},
    },
}
SCHEMA = {
    "type": "object",
    "required": list(DIMENSIONS),
    "additionalProperties": False,
    "properties": {
        "window": {"type": "string", "maxLength": 40},
        **{d: _SOURCE for d in DIMENSIONS},
        "fields": {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: {"type": "string", "maxLength": 64} for k in DEFAULT_FIELDS},
        },
        "cells": {
            "type": "array",
            "minItems": 1,
            "maxItems": 25,
            "items": {
                "type": "object",
                "required": ["name", "r", "f"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"},
                    "r": _SCORES,
                    "f": _SCORES,
                },
            },
        },
        "every": {"type": "string", "maxLength": 40},
    },
}


class _Value(Operator):
    """Not a test: hands the compiled metric back as a value (``SELECT (metric) AS x``)."""

    type, kinds = "value", SCALARS

    def value_problem(self, value, kind):
        return None

    def prepare(self, value, kind, clock):
        return None

    def sql(self, expr, value, kind, ctx):
        return expr

    def test(self, actual, value, kind):
        raise NotImplementedError


VALUE = _Value()


def _source(object_key: str, body: dict[str, Any], dimension: str) -> MetricLeaf:
    spec = body[dimension]
    tree: dict[str, Any] = {"metric": spec["metric"], "op": "is_set"}
    window = spec.get("window", body.get("window") if dimension != "recency" else None)
    if window is not None:
        tree["window"] = window
    if "where" in spec:
        tree["where"] = spec["where"]
    node = parse(tree, object_key, path=[dimension])
    assert isinstance(node, MetricLeaf)
    return node


def _threshold_errors(dimension: str, kind: str, thresholds: list[Any]) -> list[FieldError]:
    path = f"$.{dimension}.thresholds"
    if kind in (DATE, DATETIME):
        from tessera.definitions.durations import parse_duration

        try:
            deltas = [parse_duration(t) for t in thresholds]
        except (ValueError, TypeError):
            return [FieldError(path, "invalid", "recency thresholds are durations such as P30D")]
        now = current_clock().now
        if [now - d for d in deltas] != sorted((now - d for d in deltas), reverse=True):
            return [FieldError(path, "order", "thresholds go from the shortest to the longest")]
        return []
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in thresholds):
        return [FieldError(path, "invalid", f"{dimension} thresholds are numbers")]
    if list(thresholds) != sorted(thresholds):
        return [FieldError(path, "order", "thresholds go from the lowest to the highest")]
    return []


def cells_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return body.get("cells") or CLASSIC_CELLS


def cell_of(cells: list[dict[str, Any]], r: int, f: int) -> str | None:
    for cell in cells:
        if r in cell["r"] and f in cell["f"]:
            return cell["name"]
    return None


def check(object_key: str, body: Any) -> list[FieldError]:
    errors = scoring.schema_errors(SCHEMA, body)
    if errors:
        return errors
    errors = scoring.duration_errors(body, ["window", "every"])
    for dimension in DIMENSIONS:
        try:
            node = _source(object_key, body, dimension)
        except ValidationFailed as exc:
            errors += exc.errors
            continue
        wanted = {DATE, DATETIME} if dimension == "recency" else {NUMBER}
        if node.kind not in wanted:
            errors.append(
                FieldError(
                    f"$.{dimension}.metric",
                    "wrong_type",
                    f"{dimension} needs a {' or '.join(sorted(wanted))} metric, and "
                    f"{body[dimension]['metric']} is a {node.kind}"
                    + (" (use orders.last)" if dimension == "recency" else ""),
                )
            )
        elif "thresholds" in body[dimension]:
            errors += _threshold_errors(dimension, node.kind, body[dimension]["thresholds"])
    cells = cells_of(body)
    missing = [
        f"R{r}F{f}" for r in range(1, 6) for f in range(1, 6) if cell_of(cells, r, f) is None
    ]
    if missing:
        errors.append(FieldError("$.cells", "incomplete", f"no cell for {', '.join(missing)}"))
    return errors + field_errors(object_key, body)


def field_errors(object_key: str, body: dict[str, Any]) -> list[FieldError]:
    """The object must declare the four output fields, able to hold what is written."""
    fields = {**DEFAULT_FIELDS, **body.get("fields", {})}
    names = sorted({c["name"] for c in cells_of(body)})
    errors = []
    for short, what in (
        ("r", "recency scores"),
        ("f", "frequency scores"),
        ("m", "monetary scores"),
    ):
        problem = scoring.field_problem(
            object_key, fields[short], [1, 2, 3, 4, 5], what, "x-type integer, 1 to 5"
        )
        if problem:
            errors.append(FieldError(f"$.fields.{short}", "missing_field", problem))
    problem = scoring.field_problem(
        object_key,
        fields["cell"],
        names,
        "RFM cells",
        f"x-type string, or an enum of {', '.join(names)}",
    )
    if problem:
        errors.append(FieldError("$.fields.cell", "missing_field", problem))
    return errors


def configure(object_key: str, body: Any) -> ScoringSettings:
    """Save the RFM settings of ``object_key`` (ValidationFailed with JSON paths if wrong)."""
    return scoring.configure(ScoringSettings.Kind.RFM, object_key, body, check)


def _quantile(column: str) -> tuple[str, list[Any]]:
    return f"1 + (5 * (RANK() OVER (ORDER BY {column}) - 1)) / COUNT(*) OVER ()", []


def _thresholds(column: str, bounds: list[Any]) -> tuple[str, list[Any]]:
    """``bounds`` for scores 5, 4, 3, 2 in that order: the first one reached wins."""
    whens = " ".join(f"WHEN {column} >= %s THEN {5 - i}" for i in range(4))
    return f"CASE {whens} ELSE 1 END", list(bounds)


def _score_sql(dimension: str, node: MetricLeaf, body: dict, clock: Clock) -> tuple[str, list]:
    column = f"{SHORT[dimension]}_raw"
    thresholds = body[dimension].get("thresholds")
    if thresholds is None:
        return _quantile(column)
    if dimension == "recency":
        return _thresholds(column, [clock.date_value({"ago": t}, node.kind) for t in thresholds])
    numbers = [Decimal(str(t)) if connection.vendor == "postgresql" else t for t in thresholds]
    return _thresholds(column, list(reversed(numbers)))


def score_query(object_key: str, body: dict[str, Any], clock: Clock) -> tuple[str, list[Any]]:
    """One query: every record's new scores beside the ones it holds now."""
    fields = {**DEFAULT_FIELDS, **body.get("fields", {})}
    vendor = connection.vendor
    nodes = {d: _source(object_key, body, d) for d in DIMENSIONS}
    raw, params = [], []
    for dimension, node in nodes.items():
        metric = compile_condition(
            dataclasses.replace(node, operator=VALUE), object_key, clock=clock
        )
        sql = f"({metric.sql})" if dimension == "recency" else f"COALESCE(({metric.sql}), 0)"
        raw.append(f"{sql} AS {SHORT[dimension]}_raw")
        params += metric.params
    current = [
        f"{value_expr('records_record', fields[k], SqlType.NUMBER, vendor)} AS cur_{k}"
        for k in ("r", "f", "m")
    ] + [f"{value_expr('records_record', fields['cell'], SqlType.TEXT, vendor)} AS cur_cell"]
    params.append(object_key)
    scores = []
    for dimension, node in nodes.items():
        sql, extra = _score_sql(dimension, node, body, clock)
        scores.append(f"{sql} AS {SHORT[dimension]}")
        params += extra
    query = (
        f"WITH base AS (SELECT records_record.id AS id, {', '.join(raw + current)} "
        f"FROM records_record WHERE records_record.object_key = %s), "
        f"scored AS (SELECT id, {', '.join(scores)} FROM base WHERE r_raw IS NOT NULL) "
        "SELECT base.id, scored.r, scored.f, scored.m, base.cur_r, base.cur_f, base.cur_m, "
        "base.cur_cell FROM base LEFT JOIN scored ON scored.id = base.id ORDER BY base.id"
    )
    return query, params


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def score(object_key: str, *, clock: Clock | None = None) -> scoring.Outcome:
    """Score every record of ``object_key`` now and write the scores that changed."""
    clock = clock or current_clock()
    item = scoring.settings_of(ScoringSettings.Kind.RFM, object_key)
    body = item.body
    errors = field_errors(object_key, body)
    if errors:  # the object changed since the settings were saved
        raise ValidationFailed(errors)
    fields = {**DEFAULT_FIELDS, **body.get("fields", {})}
    cells = cells_of(body)
    sql, params = score_query(object_key, body, clock)
    outcome = scoring.Outcome()
    moved: list[tuple[int, tuple]] = []  # compact: a million customers fit
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH):
            for rid, r, f, m, cur_r, cur_f, cur_m, cur_cell in rows:
                outcome.considered += 1
                r, f, m = _int(r), _int(f), _int(m)
                cell = cell_of(cells, r, f) if r is not None else None
                if (r, f, m, cell) != (_int(cur_r), _int(cur_f), _int(cur_m), cur_cell):
                    moved.append((rid, (r, f, m, cell)))
    names = (fields["r"], fields["f"], fields["m"], fields["cell"])
    writes = write_fields(
        object_key,
        ((rid, dict(zip(names, new, strict=True))) for rid, new in moved),
        comment="RFM scoring",
    )
    outcome.changed = len(writes)
    ScoringSettings.objects.filter(pk=item.pk).update(last_run_at=clock.now, queued_at=None)
    return outcome
