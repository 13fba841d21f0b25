"""What the builder, GraphQL and flows call: previews, membership reads, refreshes.

Thin on purpose: parsing and compiling belong to ``tessera.conditions``, computing
membership to ``membership``; every surface calls these, so they all agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from tessera.conditions.compiler import matching
from tessera.conditions.context import Clock
from tessera.conditions.tree import parse
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.records.models import Record

from . import membership
from .membership import Delta, current_clock
from .models import Membership

MAX_SAMPLE = 100


@dataclass
class Preview:
    """How many records a draft condition selects now, and a few of them (newest first)."""

    count: int
    sample: list[Record] = field(default_factory=list)


def preview(
    object_key: str,
    condition: Any,
    sample: int = 10,
    *,
    clock: Clock | None = None,
    segment_key: str | None = None,
) -> Preview:
    """Count and sample the records of ``object_key`` that meet a condition not yet published.

    Errors come as ValidationFailed with paths under ``$.condition``, as a save would give.
    ``segment_key`` names the segment being edited, so a reference back to it is a cycle.
    """
    if not isinstance(sample, int) or isinstance(sample, bool) or not 0 <= sample <= MAX_SAMPLE:
        raise ValidationFailed(
            [FieldError("$.sample", "invalid", f"a sample is 0 to {MAX_SAMPLE} records")]
        )
    node = parse(
        condition, object_key, path=["condition"], segments=(segment_key,) if segment_key else ()
    )
    records = matching(node, object_key, clock=clock or current_clock())
    return Preview(records.count(), list(records.order_by("-id")[:sample]) if sample else [])


def _published(key: str, mode: str | None = None) -> membership.Compiled:
    segment = membership.compiled(key)
    if segment is None:
        raise LookupError(f"{key!r} is not a published segment")
    if mode and segment.mode != mode:
        raise ValueError(f"segment {key!r} is {segment.mode}, not {mode}")
    return segment


def members(key: str) -> QuerySet[Record]:
    """The records in a published segment, as stored (fresh for dynamic segments)."""
    segment = _published(key)
    ids = Membership.objects.filter(segment_key=key).values("record_id")
    return Record.objects.filter(object_key=segment.object_key, pk__in=ids)


def count(key: str) -> int:
    _published(key)
    return Membership.objects.filter(segment_key=key).count()


def is_member(key: str, record_id: int) -> bool:
    return Membership.objects.filter(segment_key=key, record_id=record_id).exists()


def segments_of(record_id: int) -> list[str]:
    """The keys of the segments a record is in."""
    return sorted(
        Membership.objects.filter(record_id=record_id).values_list("segment_key", flat=True)
    )


def refresh(key: str, *, clock: Clock | None = None) -> Delta:
    """Recompute a published segment now (dynamic or static), entries and exits as events."""
    _published(key)
    return membership.refresh(key, clock=clock)


def refresh_static(key: str, *, clock: Clock | None = None) -> Delta:
    """Take a new snapshot of a static segment; segments that use it are recomputed too."""
    from .tasks import enqueue, refresh_dependents

    _published(key, "static")
    delta = membership.refresh(key, clock=clock)
    if delta:
        enqueue(refresh_dependents, key)
    return delta
