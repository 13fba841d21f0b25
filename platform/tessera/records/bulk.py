"""Many new records of one object at once, under the rules ``service.create`` keeps for one.

Sample data and generated shops write thousands of rows; one ``service.create`` per row
costs several queries each (~140 rows/s on SQLite). Here a chunk of rows costs a handful:
every row is checked by the object's compiled validator, unique values are looked up once
per chunk (and compared inside it), related ids once per target object, the records and
their ``create`` history rows go in with multi-row INSERTs, each rollup's parents are
recomputed once, and the observers hear about the chunk once (in the transaction for
``records_written``, after the commit for the rest), as they would from the service.

A refused row raises ``RowsRefused`` naming its index in the input, with its errors at
paths inside the row; the caller's transaction decides what stays (``create_many`` itself
is atomic: a refused row leaves nothing of the call).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tessera.definitions.cache import one_revision
from tessera.definitions.errors import FieldError, ValidationFailed, json_path
from tessera.plugins import field_types

from . import observers, rollups
from .history import field_changes
from .indexes import field_expression
from .models import Event, Record, RecordChange
from .service import _definition, _normalized
from .validation import validator_for_version

CHUNK = 500


class RowsRefused(ValidationFailed):
    """Row ``index`` of a batch is refused; ``errors`` are at paths inside that row."""

    def __init__(self, index: int, errors: Iterable[FieldError]):
        super().__init__(errors)
        self.index = index

    def __str__(self) -> str:
        return f"row {self.index}: " + super().__str__()


@one_revision()
@transaction.atomic
def create_many(
    object_key: str, rows: Iterable[dict[str, Any]], *, actor=None, comment: str = ""
) -> list[int]:
    """Create a record per row (in order); returns their ids. RowsRefused names a bad row."""
    definition = _definition(object_key)
    ids: list[int] = []
    pending = iter(rows)
    while chunk := list(itertools.islice(pending, CHUNK)):
        ids += _create_chunk(definition, chunk, len(ids), actor, comment)
    return ids


def add_events(
    object_key: str, events: Iterable[tuple[int, str, dict[str, Any], dt.datetime | None]]
) -> int:
    """Add ``(record id, type, payload, at)`` events in bulk; observers hear once, on commit."""
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value
    rows = [
        (rid, kind, payload or {}, stamp(at or now), stamp(now))
        for rid, kind, payload, at in events
    ]
    if not rows:
        return 0
    _insert(
        Event,
        ["subject_id", "type", "payload", "occurred_at", "created_at"],
        rows,
        json_columns={"payload"},
    )
    observers.events_added(object_key, {r[0] for r in rows}, {r[1] for r in rows})
    return len(rows)


def _create_chunk(definition, rows: list[Any], offset: int, actor, comment: str) -> list[int]:
    object_key, body = definition.key, definition.body
    validator = validator_for_version(object_key, definition.version)
    checked: list[dict[str, Any]] = []
    for data in rows:
        if not isinstance(data, dict):
            break  # refused below, once the rows before it are judged
        checked.append(_normalized(body, data))
    # The chunk judged a field at a time (``valid_rows``); the first bad row is refused.
    for i, valid in enumerate(validator.valid_rows(checked)):
        if not valid:
            raise RowsRefused(offset + i, validator.errors(checked[i]))
    if len(checked) < len(rows):
        message = "a record is a JSON object"
        raise RowsRefused(offset + len(checked), [FieldError("$", "type", message)])
    _check_unique(object_key, body, checked, offset)
    _check_relations(body, checked, offset)
    actor_id = getattr(actor, "pk", None)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    try:
        with transaction.atomic():
            ids = _insert(
                Record,
                [
                    "object_key",
                    "data",
                    "version",
                    "schema_version",
                    "created_at",
                    "updated_at",
                    "created_by_id",
                    "updated_by_id",
                ],
                [
                    (object_key, data, 1, definition.version, now, now, actor_id, actor_id)
                    for data in checked
                ],
                json_columns={"data"},
                returning=True,
            )
    except IntegrityError as exc:  # a concurrent writer won a race on a unique index
        raise ValidationFailed(
            [FieldError("$", "unique", f"a unique field clashes: {exc}")]
        ) from exc
    _insert(
        RecordChange,
        ["record_id", "object_key", "version", "action", "changes", "actor_id", "at", "comment"],
        [
            (
                rid,
                object_key,
                1,
                RecordChange.Action.CREATE.value,
                field_changes({}, data),
                actor_id,
                now,
                comment[:500],
            )
            for rid, data in zip(ids, checked, strict=True)
        ],
        json_columns={"changes"},
    )
    writes = [
        observers.Write(rid, "create", {}, data) for rid, data in zip(ids, checked, strict=True)
    ]
    _rollups(object_key, writes)
    observers.records_written(object_key, writes)
    observers.records_changed(object_key, writes)
    return ids


def _sql_value(value: Any) -> Any:
    if isinstance(value, bool) and connection.vendor == "sqlite":
        return 1 if value else 0
    return value


def _check_unique(object_key: str, body: dict[str, Any], rows: list[dict], offset: int) -> None:
    """Values another record holds, or an earlier row of the batch; one query per group."""
    properties = body.get("properties", {})
    groups = [[n] for n, p in properties.items() if p.get("x-unique")]
    groups += [list(g) for g in body.get("x-unique-together", [])]
    for group in groups:
        first_row: dict[tuple, int] = {}
        for i, data in enumerate(rows):
            value = tuple(data.get(f) for f in group)
            if None in value:
                continue
            if value in first_row:
                raise RowsRefused(
                    offset + i,
                    [
                        FieldError(
                            json_path([group[0]]),
                            "unique",
                            f"row {offset + first_row[value]} of this batch has the same "
                            f"{', '.join(group)}",
                        )
                    ],
                )
            first_row[value] = i
        if not first_row:
            continue
        holders = _holders(object_key, properties, group, list(first_row))
        for value, holder in holders.items():
            raise RowsRefused(
                offset + first_row[value],
                [
                    FieldError(
                        json_path([group[0]]),
                        "unique",
                        f"another {object_key} (#{holder}) already has this {', '.join(group)}",
                    )
                ],
            )


def _holders(
    object_key: str, properties: dict[str, Any], group: list[str], values: list[tuple]
) -> dict[tuple, int]:
    """Stored records holding any of ``values`` of ``group``: {value: record id}."""
    exprs = [field_expression(f, field_types.get(properties[f]["x-type"]).sql_type) for f in group]
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(values), 200):
            part = values[start : start + 200]
            one = "(" + " AND ".join(f"{e} = %s" for e in exprs) + ")"
            cursor.execute(
                "SELECT id FROM records_record "
                f"WHERE object_key = %s AND ({' OR '.join([one] * len(part))})",
                [object_key, *(_sql_value(v) for value in part for v in value)],
            )
            ids += [row[0] for row in cursor.fetchall()]
    wanted = set(values)
    found: dict[tuple, int] = {}
    for rid, data in Record.objects.filter(pk__in=ids).values_list("pk", "data"):
        value = tuple(data.get(f) for f in group)
        if value in wanted:
            found.setdefault(value, rid)
    return found


def _check_relations(body: dict[str, Any], rows: list[dict], offset: int) -> None:
    wanted: dict[str, dict[int, list[tuple[int, str]]]] = defaultdict(lambda: defaultdict(list))
    for i, data in enumerate(rows):
        for name, prop in body.get("properties", {}).items():
            value = data.get(name)
            if prop["x-type"] == "relation" and isinstance(value, int):
                wanted[prop["x-relation"]["object"]][value].append((i, f"$.{name}"))
            elif prop["x-type"] == "list" and prop.get("items", {}).get("x-type") == "relation":
                target = prop["items"]["x-relation"]["object"]
                for j, item in enumerate(value or []):
                    wanted[target][item].append((i, f"$.{name}[{j}]"))
    for target, ids in wanted.items():
        found: set[int] = set()
        keys = list(ids)
        for start in range(0, len(keys), 1000):
            found |= set(
                Record.objects.filter(
                    object_key=target, pk__in=keys[start : start + 1000]
                ).values_list("pk", flat=True)
            )
        missing = sorted((i, path, rid) for rid in set(ids) - found for i, path in ids[rid])
        if missing:
            i, path, rid = missing[0]
            raise RowsRefused(
                offset + i, [FieldError(path, "relation", f"there is no {target} with id {rid}")]
            )


def _rollups(object_key: str, writes: list[observers.Write]) -> None:
    """``rollups.after_write`` for a chunk: each touched parent recomputed once."""
    for spec in rollups.published_specs():
        if spec.source != object_key:
            continue
        parents = {
            value
            for write in writes
            if isinstance(value := write.after.get(spec.link_field), int)
            and not isinstance(value, bool)
        }
        if parents:
            rollups.compute(spec, parents)


def _insert(model, columns: list[str], rows: list[tuple], *, json_columns=(), returning=False):
    """One multi-row INSERT per 500 rows, values prepared once: Django's bulk_create spends
    most of a sample load compiling per-field expressions this path does not need."""
    table = model._meta.db_table
    postgres = connection.vendor == "postgresql"
    marks = (
        "("
        + ", ".join("%s::jsonb" if postgres and c in json_columns else "%s" for c in columns)
        + ")"
    )
    json_at = [i for i, c in enumerate(columns) if c in json_columns]
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            part = rows[start : start + CHUNK]
            params: list[Any] = []
            for row in part:
                values = list(row)
                for i in json_at:
                    values[i] = json.dumps(values[i], ensure_ascii=False)
                params.extend(values)
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                + ", ".join([marks] * len(part))
                + (" RETURNING id" if returning else "")
            )
            cursor.execute(sql, params)
            if returning:
                ids += [r[0] for r in cursor.fetchall()]
    return ids
