"""Writing a checked chunk: new records in bulk, changed ones updated, with their history.

What ``tessera.records.service`` does for one record, done for a chunk at a time: the rows
were validated by the object's compiled validator (``checking``), the new ones go in with
one ``COPY`` on PostgreSQL or one multi-row insert elsewhere, noted as created together
(``history.note_bulk_creation``: each is its own create entry, see ``BulkCreation``),
changed ones with one bulk update and a ``RecordChange`` each; rollups of related parents are
recomputed once per chunk and the observers hear about the chunk's writes (in the
transaction and after the commit), as they would from the service. The unique expression
indexes are the last word: a chunk that clashes with a concurrent writer raises
IntegrityError and is redone row by row.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from json.encoder import encode_basestring
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from tessera.records import observers, rollups
from tessera.records.bulk_writes import copy_text as _copy_text
from tessera.records.bulk_writes import dumps as _dumps
from tessera.records.bulk_writes import write_changes
from tessera.records.history import field_changes, note_bulk_creation
from tessera.records.models import Record

from .checking import Checked, Entry, Plan

COPY_RECORDS = (
    "COPY records_record (id, object_key, data, version, schema_version, created_at, "
    "updated_at, created_by_id, updated_by_id) FROM STDIN"
)


def write_chunk(plan: Plan, checked: Checked, *, actor=None, comment: str = "") -> None:
    """Write ``checked`` in the current transaction (the caller's chunk transaction)."""
    actor_id = actor.pk if actor is not None else None
    prepared = checked.prepared
    if prepared is not None and not prepared.fits(plan, checked, actor_id):
        prepared = None
    now = prepared.now if prepared is not None else timezone.now()
    new = [e for e in checked.entries if e.record is None]
    changed = [e for e in checked.entries if e.record is not None and e.changed]
    writes: list[observers.Write] = []
    if new:
        if prepared is not None:
            ids = _copy_prepared(plan.object_key, prepared, comment)
        else:
            ids = _insert(plan, new, now, actor_id, comment)
        datas = [e.data for e in new]
        writes += map(observers.Write._make, zip(ids, repeat("create"), repeat({}), datas))
    if changed:
        writes += _update(plan, changed, now, actor, comment)
    if not writes:
        return
    _rollups(plan.object_key, writes)
    observers.records_written(plan.object_key, [w for w in writes if w.action == "create"])
    observers.records_changed(plan.object_key, writes)


@dataclass(frozen=True)
class PreparedInsert:
    """A chunk's new records as the bytes of their ``COPY``, ids and all (PostgreSQL).

    Made by the thread that checks (``prepare``), so the thread that writes only streams
    them: that thread waits on PostgreSQL, and any Python it runs delays the next chunk's
    ``COPY`` (measured: building and encoding the rows was a tenth of its time). The ids
    are taken from the sequence beforehand; a chunk that is checked again after all (a
    clash, a record changed since) leaves them unused, as a rolled-back insert would.
    """

    ids: list[int]
    payload: bytes
    now: datetime
    version: int
    actor_id: int | None
    entries: int

    def fits(self, plan: Plan, checked: Checked, actor_id: int | None) -> bool:
        new = sum(1 for e in checked.entries if e.record is None)
        return (
            self.version == plan.definition.version
            and self.actor_id == actor_id
            and self.entries == new
        )


def prepare(plan: Plan, checked: Checked, actor_id: int | None = None) -> None:
    """Make the chunk's ``COPY`` now, in the thread that checks (PostgreSQL only).

    ``importer.pipelined`` calls this while the writer thread writes the chunk before, so
    the writer only sends bytes while PostgreSQL works through them.
    """
    if connection.vendor != "postgresql":
        return
    new = [entry for entry in checked.entries if entry.record is None]
    if not new:
        return
    texts = record_texts([e.data for e in new])
    now = timezone.now()
    version = plan.definition.version
    with connection.cursor() as wrapper:
        ids = _next_ids(wrapper.cursor, len(new))
    payload = _copy_rows(ids, *_copy_ends(plan.object_key, version, now, actor_id), texts)
    checked.prepared = PreparedInsert(ids, payload.encode(), now, version, actor_id, len(new))


def _insert(plan: Plan, entries: list[Entry], now, actor_id: int | None, comment: str) -> list[int]:
    version = plan.definition.version
    if connection.vendor == "postgresql":
        texts = record_texts([e.data for e in entries])
        with connection.cursor() as wrapper, connection.wrap_database_errors:
            ids = _next_ids(wrapper.cursor, len(texts))
            head, tail = _copy_ends(plan.object_key, version, now, actor_id)
            with wrapper.cursor.copy(COPY_RECORDS) as copy:
                copy.write(_copy_rows(ids, head, tail, texts))
        note_bulk_creation(plan.object_key, ids, comment)
        return ids
    rows = [e.data for e in entries]
    records = Record.objects.bulk_create(
        [
            Record(
                object_key=plan.object_key,
                data=data,
                schema_version=version,
                created_by_id=actor_id,
                updated_by_id=actor_id,
            )
            for data in rows
        ],
        batch_size=500,
    )
    note_bulk_creation(plan.object_key, [r.pk for r in records], comment)
    return [r.pk for r in records]


def _copy_prepared(object_key: str, prepared: PreparedInsert, comment: str) -> list[int]:
    # psycopg's own cursor for COPY; its errors made Django's (IntegrityError) as usual
    with (
        connection.cursor() as wrapper,
        connection.wrap_database_errors,
        wrapper.cursor.copy(COPY_RECORDS) as copy,
    ):
        copy.write(prepared.payload)
    note_bulk_creation(object_key, prepared.ids, comment)
    return prepared.ids


def _next_ids(cursor, count: int) -> list[int]:
    cursor.execute(
        "SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
        [_record_sequence(cursor), count],
    )
    return [row[0] for row in cursor.fetchall()]


def _copy_ends(object_key: str, version: int, now, actor_id: int | None) -> tuple[str, str]:
    """What a record's ``COPY`` line holds before its data and after it."""
    stamp = now.isoformat()
    actor = str(actor_id) if actor_id is not None else "\\N"
    return f"\t{object_key}\t", f"\t1\t{version}\t{stamp}\t{stamp}\t{actor}\t{actor}\n"


def _copy_rows(ids: list[int], head: str, tail: str, texts: list[str]) -> str:
    """``{id}{head}{text}{tail}`` for each row, ``text`` in COPY's text format.

    The texts are JSON from ``_dumps`` or the templates, which write no raw tab, newline
    or carriage return: of what COPY escapes only a backslash can be in them, and one
    ``replace`` over the joined texts escapes them all (``_copy_text`` row by row cost
    more). ``head`` and ``tail`` are escaped already.
    """
    joined = "\x00".join(texts)  # NUL: never in the texts (JSON writes \u0000), never in COPY
    if "\t" in joined or "\n" in joined or "\r" in joined:
        texts = [_copy_text(text) for text in texts]
    else:
        if "\\" in joined:
            joined = joined.replace("\\", "\\\\")
        texts = joined.split("\x00")
    return "".join([f"{i}{head}{text}{tail}" for i, text in zip(ids, texts, strict=True)])


def _value_json(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return _dumps(value)  # None, booleans, lists, objects


# (data's fields in order) -> the record's text with a %s for each value; a file's rows
# have a few shapes (a column empty or not), so this stays small; emptied if it does not.
_TEMPLATES: dict[tuple[str, ...], str] = {}


def _template(names: tuple[str, ...]) -> str:
    found = _TEMPLATES.get(names)
    if found is None:
        if len(_TEMPLATES) > 1000:
            _TEMPLATES.clear()
        keys = [encode_basestring(name).replace("%", "%%") + ":" for name in names]
        found = _TEMPLATES[names] = "{" + ",".join(key + "%s" for key in keys) + "}"
    return found


def record_texts(rows: list[dict[str, Any]]) -> list[str]:
    """``[_record_text(data) for data in rows]``, a field at a time.

    The rows of a file mostly share one shape (the same fields present): for each shape a
    column's values are encoded with one C-level ``map`` when they are all of one plain
    type (text, whole numbers, finite floats), and the texts are made from the template
    with ``map`` too: no Python call per value, or per row (tests/exchange/test_writing.py
    holds the texts to ``_dumps``'s).
    """
    shapes = list(map(tuple, rows))
    kinds = set(shapes)
    if len(kinds) == 1:
        return _texts_of_shape(shapes[0], rows)
    groups: dict[tuple[str, ...], list[int]] = {shape: [] for shape in kinds}
    for i, shape in enumerate(shapes):
        groups[shape].append(i)
    out: list[str] = [""] * len(rows)
    for names, positions in groups.items():
        texts = _texts_of_shape(names, [rows[i] for i in positions])
        for i, text in zip(positions, texts, strict=True):
            out[i] = text
    return out


def _texts_of_shape(names: tuple[str, ...], rows: list[dict[str, Any]]) -> list[str]:
    """The texts of rows that all hold exactly the fields ``names``, in that order."""
    template = _template(names)
    if not names:
        return [template] * len(rows)
    columns = [_encoded(list(map(operator.itemgetter(name), rows))) for name in names]
    return list(map(template.__mod__, zip(*columns, strict=True)))


def _encoded(values: list[Any]) -> list[str]:
    """The JSON text of each value, as ``_value_json`` writes it."""
    kinds = set(map(type, values))
    if kinds == {str}:
        return list(map(encode_basestring, values))
    if kinds == {int}:
        return list(map(int.__repr__, values))
    if kinds <= {int, float}:  # amounts: whole ones are stored as int, the rest as float
        try:
            finite = float not in kinds or all(map(math.isfinite, values))
        except OverflowError:  # an int too large for a float: value by value
            finite = False
        if finite:
            return list(map(repr, values))
    return list(map(_value_json, values))


def _record_text(data: dict[str, Any]) -> str:
    """The JSON text of a new record's ``data``, as ``_dumps`` writes it, from the template
    of its fields (tests/exchange/test_writing.py holds the two together)."""
    values = tuple(
        [encode_basestring(v) if type(v) is str else _value_json(v) for v in data.values()]
    )
    return _template(tuple(data)) % values


_sequences: dict[str, str] = {}


def _record_sequence(cursor) -> str:
    """The name of the records' id sequence, asked once per database.

    ``nextval(pg_get_serial_sequence(…))`` looked the name up for every id: 0.6 s per
    50,000 ids, against 0.1 s with the name given.
    """
    alias = connection.settings_dict["NAME"]
    if alias not in _sequences:
        cursor.execute("SELECT pg_get_serial_sequence('records_record', 'id')")
        _sequences[alias] = cursor.fetchone()[0]
    return _sequences[alias]


def _update(plan: Plan, entries, now, actor, comment: str) -> list[observers.Write]:
    version = plan.definition.version
    writes, changes, records = [], [], []
    for entry in entries:
        record = entry.record
        old = record.data
        record.data = entry.data
        record.version += 1
        record.schema_version = version
        records.append(record)
        changes.append(field_changes(old, entry.data))
        writes.append(observers.Write(record.pk, "update", old, entry.data))
    # the JSON texts as new records' are made, a field at a time (PostgreSQL only)
    postgresql = connection.vendor == "postgresql"
    texts = record_texts([record.data for record in records]) if postgresql else None
    write_changes(
        plan.object_key,
        records,
        changes,
        action="update",
        comment=comment,
        actor=actor,
        now=now,
        texts=texts,
    )
    return writes


def _rollups(object_key: str, writes: list[observers.Write]) -> None:
    """``rollups.after_write`` for a chunk: each touched parent recomputed once."""
    specs = [s for s in rollups.published_specs() if s.source == object_key]
    for spec in specs:
        parents: set[int] = set()
        for write in writes:
            for value in (write.before.get(spec.link_field), write.after.get(spec.link_field)):
                if isinstance(value, int) and not isinstance(value, bool):
                    parents.add(value)
        if parents:
            rollups.compute(spec, parents)


def write_rows_one_by_one(plan: Plan, checked: Checked, *, actor=None, comment: str = ""):
    """The slow, sure path after a clash: each entry through ``records.service``.

    Returns the entries' rows that were refused, with the service's errors.
    """
    from tessera.definitions.errors import ValidationFailed
    from tessera.records import service

    refused: dict[int, list] = {}
    for entry in checked.entries:
        try:
            with transaction.atomic():
                if entry.record is None:
                    service.create(plan.object_key, entry.data, actor=actor, comment=comment)
                elif entry.changed:
                    current = Record.objects.get(pk=entry.record.pk)
                    changes = {k: entry.data.get(k) for k in set(current.data) | set(entry.data)}
                    service.update(
                        plan.object_key,
                        current.pk,
                        changes,
                        version=current.version,
                        actor=actor,
                        comment=comment,
                    )
        except ValidationFailed as exc:
            refused[entry.rows[-1]] = exc.errors
    return refused
