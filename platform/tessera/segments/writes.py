"""Bulk paths over records that still keep the record's rules: versions, history, observers.

RFM scores and lifecycle stages change many records at once; going through
``records.service.update`` one by one would cost five queries a record. This path locks the
records in chunks, writes only what differs, bumps each version, writes one history row
per record and tells the record observers, as the service does. It skips the JSON Schema
check, so the callers check once, up front, that the fields exist and take their values
(see ``rfm.field_problems`` and ``lifecycle``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from tessera.definitions.fields.base import SqlType
from tessera.records import observers
from tessera.records.history import field_changes
from tessera.records.indexes import field_expression
from tessera.records.models import Record, RecordChange
from tessera.records.row_updates import update_rows

CHUNK = 500


def write_fields(
    object_key: str, changes: Iterable[tuple[int, dict[str, Any]]], *, comment: str
) -> list[observers.Write]:
    """Set fields on many records (``None`` clears one); returns the writes that changed data.

    ``changes`` is consumed ``CHUNK`` records at a time, each chunk in its own transaction,
    so a caller can stream a million of them.
    """
    done: list[observers.Write] = []
    pending = iter(changes)
    while chunk := dict(itertools.islice(pending, CHUNK)):
        done += _write_chunk(object_key, chunk, comment)
    return done


@transaction.atomic
def _write_chunk(
    object_key: str, values: dict[int, dict[str, Any]], comment: str
) -> list[observers.Write]:
    now = timezone.now()
    changed, history, writes = [], [], []
    locked = Record.objects.select_for_update().filter(object_key=object_key, pk__in=list(values))
    for record in locked.order_by("pk"):
        old = record.data
        new = {k: v for k, v in {**old, **values[record.pk]}.items() if v is not None}
        if new == old:
            continue
        record.data, record.version, record.updated_at = new, record.version + 1, now
        record.updated_by = None
        changed.append(record)
        history.append(
            RecordChange(
                record_id=record.pk,
                object_key=object_key,
                version=record.version,
                action=RecordChange.Action.UPDATE,
                changes=field_changes(old, new),
                comment=comment[:500],
            )
        )
        writes.append(observers.Write(record.pk, "update", old, new))
    update_rows(changed, ["data", "version", "updated_at", "updated_by"])
    RecordChange.objects.bulk_create(history)
    observers.records_changed(object_key, writes)
    return writes


def pointing_at(object_key: str, link: str, target_ids: Iterable[int]) -> list[int]:
    """Records of ``object_key`` whose relation field ``link`` holds one of ``target_ids``."""
    targets = sorted({int(t) for t in target_ids})
    if not targets:
        return []
    expr = field_expression(link, SqlType.NUMBER)
    postgres = connection.vendor == "postgresql"
    found: list[int] = []
    for start in range(0, len(targets), CHUNK):
        chunk = targets[start : start + CHUNK]
        params = [Decimal(t) for t in chunk] if postgres else chunk
        marks = ", ".join(["%s"] * len(chunk))
        found += (
            Record.objects.filter(object_key=object_key)
            .filter(RawSQL(f"{expr} IN ({marks})", params, output_field=BooleanField()))
            .values_list("pk", flat=True)
        )
    return sorted(found)
