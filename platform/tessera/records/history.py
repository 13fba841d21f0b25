"""The field-level diff kept for every write to a record."""

from __future__ import annotations

from typing import Any

from tessera import write_batch

from .models import Record, RecordChange


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


def history(record_id: int) -> list[RecordChange]:
    return list(RecordChange.objects.filter(record_id=record_id).order_by("version", "id"))
