"""Computing who is in a segment, set-based, and recording each entry and exit as an event.

One computation is two statements over the compiled condition (the SQL face):

- ``DELETE … WHERE NOT EXISTS (the record still matches) RETURNING record_id``: the exits;
- ``INSERT … SELECT matching records not yet members RETURNING record_id``: the entries;

then one bulk insert of ``segment_exited`` / ``segment_entered`` events. Limited to a few
record ids, the same two statements re-check only those records (what a write triggers).
The segment's ``SegmentState`` row is locked for the length of it, so two computations of
one segment never both see a record as new and both emit its entry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tessera.conditions.compiler import compile_condition
from tessera.conditions.context import Clock
from tessera.conditions.tree import Node, parse
from tessera.definitions.cache import RevisionCache, published
from tessera.definitions.errors import ValidationFailed
from tessera.definitions.models import Definition, Status
from tessera.records import observers
from tessera.records.models import Event

from .models import Membership, SegmentState
from .reads import Reads, reads_of

logger = logging.getLogger(__name__)

ENTERED, EXITED = "segment_entered", "segment_exited"
CHUNK = 500


def current_clock() -> Clock:
    """The clock of a computation that was given none: ``timezone.now()`` at the call."""
    return Clock(timezone.now())


def option(name: str, default: int) -> int:
    """A knob of the segments layer: ``TESSERA_SEGMENTS = {"name": value}`` in settings."""
    return int(getattr(settings, "TESSERA_SEGMENTS", {}).get(name, default))


@dataclass(frozen=True)
class Compiled:
    """A published segment, parsed once per definitions revision."""

    key: str
    object_key: str
    version: int
    mode: str
    node: Node
    reads: Reads
    refresh: str | None = None


@dataclass
class Delta:
    """What one computation changed."""

    entered: list[int] = field(default_factory=list)
    exited: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.entered or self.exited)

    def add(self, other: Delta) -> None:
        self.entered += other.entered
        self.exited += other.exited


_compiled = RevisionCache()


def parse_segment(key: str, body: dict) -> Node:
    """The condition of a segment body, checked for its object, cycles refused."""
    return parse(body["condition"], body["object"], path=["condition"], segments=(key,))


def _compile(definition: Definition) -> Compiled | None:
    body = definition.body
    try:
        node = parse_segment(definition.key, body)
    except ValidationFailed as exc:
        # Published once, broken since (an object lost a field it reads): left alone, said loudly.
        logger.error("segment %s no longer parses: %s", definition.key, exc)
        return None
    return Compiled(
        definition.key,
        body["object"],
        definition.version,
        body.get("mode", "dynamic"),
        node,
        reads_of(node, body["object"]),
        body.get("refresh"),
    )


def compiled(key: str) -> Compiled | None:
    """The published segment ``key``, parsed; None if there is none (or it no longer parses)."""

    def build() -> Compiled | None:
        definition = published("segment", key)
        return _compile(definition) if definition is not None else None

    return _compiled.get(("segment", key), build)


def all_compiled() -> list[Compiled]:
    def build() -> list[Compiled]:
        found = []
        for definition in Definition.objects.filter(kind="segment", status=Status.PUBLISHED):
            item = _compile(definition)
            if item is not None:
                found.append(item)
        return sorted(found, key=lambda c: c.key)

    return _compiled.get("all", build)


def _locked_state(key: str) -> SegmentState:
    SegmentState.objects.get_or_create(segment_key=key)
    return SegmentState.objects.select_for_update().get(segment_key=key)


def _ids_sql(column: str, ids: Sequence[int] | None) -> tuple[str, list[int]]:
    if ids is None:
        return "", []
    return f" AND {column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _apply(key: str, object_key: str, node: Node, clock: Clock, ids: Sequence[int] | None) -> Delta:
    """Bring membership of ``key`` in line with ``node`` (for ``ids`` only, or everyone)."""
    condition = compile_condition(node, object_key, clock=clock)
    when = connection.ops.adapt_datetimefield_value(clock.now)
    with connection.cursor() as cursor:
        scope, scope_params = _ids_sql("segments_membership.record_id", ids)
        cursor.execute(
            "DELETE FROM segments_membership WHERE segment_key = %s"
            + scope
            + " AND NOT EXISTS (SELECT 1 FROM records_record"
            " WHERE records_record.id = segments_membership.record_id"
            f" AND records_record.object_key = %s AND ({condition.sql}))"
            " RETURNING record_id",
            [key, *scope_params, object_key, *condition.params],
        )
        exited = sorted(row[0] for row in cursor.fetchall())
        scope, scope_params = _ids_sql("records_record.id", ids)
        cursor.execute(
            "INSERT INTO segments_membership (segment_key, record_id, entered_at)"
            " SELECT %s, records_record.id, %s FROM records_record"
            " WHERE records_record.object_key = %s"
            + scope
            + f" AND ({condition.sql}) AND NOT EXISTS (SELECT 1 FROM segments_membership m"
            " WHERE m.segment_key = %s AND m.record_id = records_record.id)"
            " RETURNING record_id",
            [key, when, object_key, *scope_params, *condition.params, key],
        )
        entered = sorted(row[0] for row in cursor.fetchall())
    return Delta(entered, exited)


def _emit(key: str, object_key: str, delta: Delta, clock: Clock) -> None:
    """One event per entry and exit, in bulk; observers hear of them on commit."""
    payload = {"segment": key}
    events = [
        Event(subject_id=rid, type=kind, payload=payload, occurred_at=clock.now)
        for kind, ids in ((EXITED, delta.exited), (ENTERED, delta.entered))
        for rid in ids
    ]
    Event.objects.bulk_create(events, batch_size=1000)
    for kind, ids in ((EXITED, delta.exited), (ENTERED, delta.entered)):
        observers.events_added(object_key, ids, {kind})


@transaction.atomic
def refresh(
    key: str,
    *,
    clock: Clock | None = None,
    node: Node | None = None,
    object_key: str | None = None,
    version: int | None = None,
) -> Delta:
    """Compute the whole membership of ``key`` again (its published version, or ``node``)."""
    clock = clock or current_clock()
    if node is None:
        segment = compiled(key)
        if segment is None:
            raise LookupError(f"{key!r} is not a published segment")
        node, object_key, version = segment.node, segment.object_key, segment.version
    state = _locked_state(key)
    delta = _apply(key, object_key, node, clock, None)
    _emit(key, object_key, delta, clock)
    state.version = version or state.version
    state.refreshed_at = clock.now
    state.queued_at = None
    state.members = Membership.objects.filter(segment_key=key).count()
    state.save()
    return delta


def recheck(key: str, record_ids: Iterable[int], *, clock: Clock | None = None) -> Delta:
    """Re-check some records of a published dynamic segment (after they or theirs changed)."""
    segment = compiled(key)
    ids = sorted({int(i) for i in record_ids})
    if segment is None or segment.mode != "dynamic" or not ids:
        return Delta()
    if len(ids) > option("full_threshold", 5000):
        return refresh(key, clock=clock)
    clock = clock or current_clock()
    total = Delta()
    for start in range(0, len(ids), CHUNK):
        with transaction.atomic():
            state = _locked_state(key)
            delta = _apply(key, segment.object_key, segment.node, clock, ids[start : start + CHUNK])
            if delta:
                _emit(key, segment.object_key, delta, clock)
                state.members += len(delta.entered) - len(delta.exited)
                state.save(update_fields=["members"])
            total.add(delta)
    return total


def dependents(key: str) -> list[str]:
    """Published dynamic segments that use ``key`` (directly or through others)."""
    return [c.key for c in all_compiled() if key in c.reads.segments and c.key != key]
