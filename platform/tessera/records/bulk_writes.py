"""Storing the changes of many records at once: their new data and their history rows.

An import's chunk of updates and a publish's migration each change thousands of records
together. Through the ORM every record cost an adapted ``UPDATE`` and a model for its
history row; here, on PostgreSQL, the records of a call are one ``UPDATE`` and their
history rows one ``COPY``, written as ``records.service`` would write them one by one
(tests/exchange/test_import_history.py and tests/records/test_object_migrations.py hold
the two together). Elsewhere: ``row_updates.update_rows`` and ``bulk_create``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from .models import Record, RecordChange
from .row_updates import update_rows

# One encoder for every row: json.dumps with options builds a new one per call. Compact:
# jsonb keeps no spaces, and PostgreSQL parses a tenth fewer bytes per row without them.
dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def copy_text(value: str) -> str:
    """A value in COPY's text format; JSON from ``dumps`` has no raw tab or newline."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def write_changes(
    object_key: str,
    records: Sequence[Record],
    changes: Sequence[dict[str, list[Any]]],
    *,
    action: str,
    comment: str = "",
    actor=None,
    now: datetime | None = None,
    touch: bool = True,
    texts: Sequence[str] | None = None,
) -> None:
    """Store ``records`` as they are (data, version, schema version) with a history row each.

    ``changes``: each record's ``{field: [old, new]}``. ``touch``: a person's write, which
    also sets ``updated_at`` and ``updated_by`` to ``now`` and ``actor`` on the instances
    and rows (a migration's is not). ``texts``: the records' data as JSON text, when the
    caller has made them already.
    """
    if not records:
        return
    now = now or timezone.now()
    if touch:
        for record in records:
            record.updated_at, record.updated_by = now, actor
    if connection.vendor != "postgresql":
        fields = ["data", "version", "schema_version"]
        update_rows(records, [*fields, "updated_at", "updated_by"] if touch else fields)
        RecordChange.objects.bulk_create(
            [
                RecordChange(
                    record_id=record.pk,
                    object_key=object_key,
                    version=record.version,
                    action=action,
                    changes=change,
                    actor=actor,
                    comment=comment[:500],
                    at=now,
                )
                for record, change in zip(records, changes, strict=True)
            ],
            batch_size=500,
        )
        return
    texts = texts if texts is not None else [dumps(record.data) for record in records]
    _set_data(records, texts, (now, actor) if touch else None)
    _copy_history(object_key, records, changes, action, comment, actor, now)


def _set_data(records: Sequence[Record], texts: Sequence[str], touched) -> None:
    """One ``UPDATE`` for every record of the call (PostgreSQL).

    The records are named by id alone (``r.id = ANY(ids)``: a probe of the primary key
    each, whatever the statistics say; naming their object too, right after an import had
    filled the table with statistics still of the table before, the planner took the
    object to have a few thousand records and hashed all of them for every call: 0.6 s,
    then 0.12 s, for 5,000 among a million customers). The data goes as one JSON array of
    the texts: as a ``text[]`` psycopg escaped each text's quotes with a regular
    expression, a third of the statement's time.
    """
    stamp = ", updated_at = %(now)s, updated_by_id = %(actor)s" if touched else ""
    sql = (
        "UPDATE records_record AS r SET data = v.data, version = v.version, "
        f"schema_version = v.schema_version{stamp} FROM ROWS FROM ("
        "unnest(%(ids)s::bigint[]), jsonb_array_elements(%(datas)s::jsonb), "
        "unnest(%(versions)s::int[]), unnest(%(schemas)s::int[])"
        ") AS v(id, data, version, schema_version) "
        "WHERE r.id = ANY(%(ids)s::bigint[]) AND r.id = v.id"
    )
    params = {
        "ids": [record.pk for record in records],
        "datas": "[" + ",".join(texts) + "]",
        "versions": [record.version for record in records],
        "schemas": [record.schema_version for record in records],
    }
    if touched:
        now, actor = touched
        params.update(now=now, actor=actor.pk if actor is not None else None)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


COPY_HISTORY = (
    "COPY records_recordchange (record_id, object_key, version, action, changes, at, comment, "
    "actor_id) FROM STDIN"
)


def _copy_history(object_key, records, changes, action, comment, actor, now) -> None:
    """The call's history rows by ``COPY`` (PostgreSQL), as ``record_change`` writes them."""
    tail = (
        f"\t{now.isoformat()}\t{copy_text(comment[:500])}\t"
        f"{actor.pk if actor is not None else chr(92) + 'N'}\n"
    )
    head = f"\t{copy_text(object_key)}\t"
    lines = "".join(
        f"{record.pk}{head}{record.version}\t{action}\t{copy_text(dumps(change))}{tail}"
        for record, change in zip(records, changes, strict=True)
    )
    with (
        connection.cursor() as wrapper,
        connection.wrap_database_errors,
        wrapper.cursor.copy(COPY_HISTORY) as copy,
    ):
        copy.write(lines)
