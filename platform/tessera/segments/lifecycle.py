"""Lifecycle stages: each record's stage by rules evaluated in order, changes as events.

Settings (one document per object, see docs/segments.md)::

    {"field": "lifecycle_stage",
     "stages": [
       {"stage": "prospect", "condition": {"metric": "orders.count", "op": "eq", "value": 0}},
       {"stage": "new",      "condition": {"metric": "orders.first", "op": "within",
                                           "value": {"last": "P30D"}}},
       {"stage": "active",   "condition": {"metric": "orders.last", "op": "within",
                                           "value": {"last": "P90D"}}},
       {"stage": "dormant",  "condition": {"metric": "orders.last", "op": "within",
                                           "value": {"last": "P365D"}}}],
     "default": "churned",
     "every": "PT1H"}

The first stage whose condition holds wins; ``default`` (optional) is the stage of a
record no rule matches (none: the field is cleared). The whole assignment is one SQL
query, ``CASE WHEN c1 THEN 'prospect' WHEN c2 THEN 'new' … END``; records whose stage
changed are written (``writes.write_fields``) and get a ``lifecycle_changed`` event with
payload ``{"from": old, "to": new}``. The periodic step reassigns every record (stages
move with the clock); writes re-check only the records whose stage rules they can change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction

from tessera.conditions.compiler import compile_condition
from tessera.conditions.context import Clock
from tessera.conditions.sql import value_expr
from tessera.conditions.tree import Node, parse
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.definitions.fields.base import SqlType
from tessera.records import observers
from tessera.records.models import Event

from . import scoring
from .membership import current_clock
from .models import ScoringSettings
from .reads import Reads, reads_of
from .writes import CHUNK, write_fields

logger = logging.getLogger(__name__)

EVENT = "lifecycle_changed"
_STAGE = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"}
SCHEMA = {
    "type": "object",
    "required": ["field", "stages"],
    "additionalProperties": False,
    "properties": {
        "field": {"type": "string", "maxLength": 64},
        "stages": {
            "type": "array",
            "minItems": 1,
            "maxItems": 20,
            "items": {
                "type": "object",
                "required": ["stage", "condition"],
                "additionalProperties": False,
                "properties": {
                    "stage": _STAGE,
                    "condition": {"type": "object"},
                    "description": {"type": "string", "maxLength": 500},
                },
            },
        },
        "default": _STAGE,
        "every": {"type": "string", "maxLength": 40},
    },
}


def _stages(object_key: str, body: dict[str, Any]) -> list[tuple[str, Node]]:
    """(stage, parsed condition) in order; ValidationFailed with every error's path."""
    errors, parsed = [], []
    for i, rule in enumerate(body["stages"]):
        try:
            parsed.append(
                (
                    rule["stage"],
                    parse(rule["condition"], object_key, path=["stages", i, "condition"]),
                )
            )
        except ValidationFailed as exc:
            errors += exc.errors
    if errors:
        raise ValidationFailed(errors)
    return parsed


def _names(body: dict[str, Any]) -> list[str]:
    names = [rule["stage"] for rule in body["stages"]]
    return names + ([body["default"]] if body.get("default") else [])


def check(object_key: str, body: Any) -> list[FieldError]:
    errors = scoring.schema_errors(SCHEMA, body)
    if errors:
        return errors
    errors = scoring.duration_errors(body, ["every"])
    seen: set[str] = set()
    for i, rule in enumerate(body["stages"]):
        if rule["stage"] in seen:
            errors.append(
                FieldError(
                    f"$.stages[{i}].stage", "duplicate", f"stage {rule['stage']!r} is listed twice"
                )
            )
        seen.add(rule["stage"])
    try:
        _stages(object_key, body)
    except ValidationFailed as exc:
        errors += exc.errors
    return errors + field_errors(object_key, body)


def field_errors(object_key: str, body: dict[str, Any]) -> list[FieldError]:
    names = sorted(set(_names(body)))
    problem = scoring.field_problem(
        object_key,
        body["field"],
        names,
        "lifecycle stages",
        f"x-type string, or an enum of {', '.join(names)}",
    )
    return [FieldError("$.field", "missing_field", problem)] if problem else []


def configure(object_key: str, body: Any) -> ScoringSettings:
    """Save the lifecycle rules of ``object_key`` (ValidationFailed with JSON paths if wrong)."""
    return scoring.configure(ScoringSettings.Kind.LIFECYCLE, object_key, body, check)


def all_reads() -> dict[str, Reads]:
    """What each object's lifecycle rules read, for the freshness index."""
    found = {}
    for item in ScoringSettings.objects.filter(kind=ScoringSettings.Kind.LIFECYCLE):
        try:
            stages = _stages(item.object_key, item.body)
        except ValidationFailed as exc:
            logger.error("lifecycle rules of %s no longer parse: %s", item.object_key, exc)
            continue
        reads = Reads(item.object_key)
        for _, node in stages:
            reads.merge(reads_of(node, item.object_key))
        found[item.object_key] = reads
    return found


def stage_query(
    object_key: str, body: dict[str, Any], clock: Clock, ids: list[int] | None = None
) -> tuple[str, list[Any]]:
    """One query: each record's stage by the rules, beside the stage it holds now."""
    whens, params = [], []
    for stage, node in _stages(object_key, body):
        condition = compile_condition(node, object_key, clock=clock)
        whens.append(f"WHEN ({condition.sql}) THEN %s")
        params += [*condition.params, stage]
    params.append(body.get("default"))
    current = value_expr("records_record", body["field"], SqlType.TEXT, connection.vendor)
    scope = ""
    if ids is not None:
        scope = f" AND records_record.id IN ({', '.join(['%s'] * len(ids))})"
    sql = (
        f"SELECT records_record.id, CASE {' '.join(whens)} ELSE %s END, {current} "
        f"FROM records_record WHERE records_record.object_key = %s{scope} "
        "ORDER BY records_record.id"
    )
    return sql, [*params, object_key, *(ids or [])]


def assign(
    object_key: str, ids: Iterable[int] | None = None, *, clock: Clock | None = None
) -> scoring.Outcome:
    """Give every record (or those of ``ids``) its stage; write and announce the changes."""
    clock = clock or current_clock()
    item = scoring.settings_of(ScoringSettings.Kind.LIFECYCLE, object_key)
    body = item.body
    errors = field_errors(object_key, body)
    if errors:
        raise ValidationFailed(errors)
    scopes: list[list[int] | None] = [None]
    if ids is not None:
        wanted = sorted({int(i) for i in ids})
        scopes = [wanted[i : i + CHUNK] for i in range(0, len(wanted), CHUNK)]
    outcome = scoring.Outcome()
    for scope in scopes:
        sql, params = stage_query(object_key, body, clock, scope)
        moves: dict[int, tuple[str | None, str | None]] = {}
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(5000):
                for rid, stage, current in rows:
                    outcome.considered += 1
                    if stage != current:
                        moves[rid] = (current, stage)
        pending = sorted(moves)
        for start in range(0, len(pending), CHUNK):
            written = _move(object_key, body["field"], pending[start : start + CHUNK], moves, clock)
            outcome.changed += written
            outcome.events += written
    if ids is None:
        ScoringSettings.objects.filter(pk=item.pk).update(last_run_at=clock.now, queued_at=None)
    return outcome


@transaction.atomic
def _move(
    object_key: str, field: str, ids: list[int], moves: dict[int, tuple], clock: Clock
) -> int:
    """Write the new stages of ``ids`` and their ``lifecycle_changed`` events, together."""
    writes = write_fields(
        object_key, ((rid, {field: moves[rid][1]}) for rid in ids), comment="lifecycle stage"
    )
    events = [
        Event(
            subject_id=w.record_id,
            type=EVENT,
            occurred_at=clock.now,
            payload={"from": moves[w.record_id][0], "to": moves[w.record_id][1]},
        )
        for w in writes
    ]
    Event.objects.bulk_create(events, batch_size=1000)
    observers.events_added(object_key, [e.subject_id for e in events], {EVENT})
    return len(events)


def recheck(object_key: str, ids: Iterable[int]) -> list[int]:
    """The re-check a write triggers: only the records it can have moved."""
    if not ScoringSettings.objects.filter(
        kind=ScoringSettings.Kind.LIFECYCLE, object_key=object_key
    ).exists():
        return [0, 0]
    outcome = assign(object_key, ids)
    return [outcome.considered, outcome.changed]
