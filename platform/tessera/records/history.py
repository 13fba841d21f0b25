"""The field-level diff kept for every write to a record, and the history read back.

Every write leaves a ``RecordChange`` row, but for one kind: records created in bulk (an
import's chunks) leave none for their creation. Such a record is its own create entry
(``creation``): its data walked back through the changes after it, its time and person the
record's, the why from its ``BulkCreation`` run. Reading history through ``history`` or
``with_creations`` gives every record a create entry either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tessera import write_batch

from .models import BulkCreation, Record, RecordChange

CREATE = RecordChange.Action.CREATE.value


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for every top-level field that differs; absent is None."""
    return {
        name: [old.get(name), new.get(name)]
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name) or (name in old) != (name in new)
    }


def record_change(
    record: Record,
    action: str,
    old: dict[str, Any],
    new: dict[str, Any],
    *,
    actor=None,
    comment: str = "",
) -> RecordChange:
    """Write the history line (inside ``write_batch.batch()`` it waits, without an id)."""
    change = RecordChange(
        record_id=record.pk,
        object_key=record.object_key,
        version=record.version,
        action=action,
        changes=field_changes(old, new),
        actor=actor,
        comment=comment[:500],
    )
    write_batch.insert(change)
    return change


def note_bulk_creation(object_key: str, ids: Sequence[int], comment: str = "") -> None:
    """Say that ``ids`` were created without create rows: one row per run of ids."""
    runs: list[list[int]] = []
    for record_id in sorted(ids):
        if runs and record_id == runs[-1][1] + 1:
            runs[-1][1] = record_id
        else:
            runs.append([record_id, record_id])
    BulkCreation.objects.bulk_create(
        BulkCreation(object_key=object_key, first_id=first, last_id=last, comment=comment[:500])
        for first, last in runs
    )


def first_data(record: Record, later: Iterable[RecordChange]) -> dict[str, Any] | None:
    """The data ``record`` was created with: its data now, each later change undone.

    Versions count the writes, so the changes must be exactly versions 2 to the record's:
    with one missing (a write that left no row) this gives None rather than a wrong guess.
    """
    data = dict(record.data)
    expected = record.version
    undo = sorted((c for c in later if c.action != CREATE), key=lambda c: c.version, reverse=True)
    for change in undo:
        if change.version != expected:
            return None
        for name, (old, _new) in change.changes.items():
            if old is None:
                data.pop(name, None)
            else:
                data[name] = old
        expected -= 1
    return data if expected == 1 else None


def creation(record: Record, later: Iterable[RecordChange], comment: str = "") -> RecordChange:
    """The create entry of a record created in bulk (unsaved; ``changes`` empty if unknown)."""
    data = first_data(record, later)
    return RecordChange(
        record_id=record.pk,
        object_key=record.object_key,
        version=1,
        action=CREATE,
        changes=field_changes({}, data) if data is not None else {},
        actor_id=record.created_by_id,
        at=record.created_at,
        comment=comment,
    )


def bulk_comments(ids: Iterable[int]) -> dict[int, str]:
    """The ``BulkCreation`` comment of each of ``ids`` created in bulk."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    # runs do not overlap: the ones wanted start at the run holding the first id or after
    before = BulkCreation.objects.filter(first_id__lte=ids[0]).order_by("-first_id")
    start = before.values_list("first_id", flat=True).first() or ids[0]
    runs = BulkCreation.objects.filter(first_id__gte=start, first_id__lte=ids[-1])
    found: dict[int, str] = {}
    for run in runs.only("first_id", "last_id", "comment"):
        for record_id in ids:
            if run.first_id <= record_id <= run.last_id:
                found[record_id] = run.comment
    return found


def with_creations(
    records: Iterable[Record], changes: dict[int, list[RecordChange]]
) -> dict[int, list[RecordChange]]:
    """``changes`` (record id → its rows) with a create entry made for each record without one."""
    missing = [r for r in records if not any(c.action == CREATE for c in changes.get(r.pk, ()))]
    comments = bulk_comments(r.pk for r in missing)
    for record in missing:
        rows = changes.setdefault(record.pk, [])
        rows.insert(0, creation(record, rows, comments.get(record.pk, "")))
    return changes


def history(record_id: int) -> list[RecordChange]:
    """Every change of a record, oldest first, its create entry included."""
    rows = list(RecordChange.objects.filter(record_id=record_id).order_by("version", "id"))
    record = Record.objects.filter(pk=record_id).first()
    if record is not None:
        rows = with_creations([record], {record_id: rows})[record_id]
    return rows


def keep_creation(record: Record) -> None:
    """Write out a bulk-created record's create row, before the record that holds it goes."""
    if not RecordChange.objects.filter(record_id=record.pk, action=CREATE).exists():
        later = RecordChange.objects.filter(record_id=record.pk)
        entry = creation(record, later, bulk_comments([record.pk]).get(record.pk, ""))
        at = entry.at
        entry.save()
        RecordChange.objects.filter(pk=entry.pk).update(at=at)  # auto_now_add set it to now
