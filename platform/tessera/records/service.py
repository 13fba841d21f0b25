"""Every write to a record goes through here: validated, unique, related, locked, recorded.

Callers (GraphQL, imports, flows, packs) get either the saved record or an exception that
names each problem with its JSON path; a refused write changes nothing.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tessera import write_batch
from tessera.definitions.cache import one_revision, published
from tessera.definitions.errors import FieldError, ValidationFailed, json_path
from tessera.definitions.fields.base import SqlType
from tessera.definitions.service import KEY
from tessera.plugins import field_types

from . import observers, rollups
from .history import keep_creation, record_change
from .indexes import field_expression
from .models import Event, Record
from .validation import validator_for_version


class RecordNotFound(LookupError):
    """No record with that id (of that object)."""


class VersionConflict(Exception):
    """The record changed since the writer read it; re-read and try again."""

    def __init__(self, record_id: int, expected: int, actual: int):
        self.record_id, self.expected, self.actual = record_id, expected, actual
        super().__init__(
            f"record {record_id} is at version {actual}, not {expected}: "
            "it changed since it was read"
        )


def _definition(object_key: str):
    if not isinstance(object_key, str) or not KEY.fullmatch(object_key):
        raise ValidationFailed([FieldError("$.object", "invalid", "an object key is a slug")])
    definition = published("object", object_key)
    if definition is None:
        raise ValidationFailed(
            [FieldError("$.object", "unknown_object", f"{object_key!r} is not a published object")]
        )
    return definition


def _normalized(body: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Store datetimes in one UTC shape so they compare as text, in indexes and SQL alike."""
    out = dict(data)
    for name, prop in body.get("properties", {}).items():
        value = out.get(name)
        if value is None or prop["x-type"] != "datetime" or not isinstance(value, str):
            continue
        with contextlib.suppress(ValueError):  # the validator reports it
            out[name] = field_types.get("datetime").convert(value)
    return out


def _check_unique(object_key: str, body: dict[str, Any], data: dict[str, Any], exclude: int | None):
    errors = []
    properties = body.get("properties", {})
    groups = [[n] for n, p in properties.items() if p.get("x-unique")]
    groups += body.get("x-unique-together", [])
    for group in groups:
        if any(data.get(f) is None for f in group):
            continue
        where = " AND ".join(
            f"{field_expression(f, field_types.get(properties[f]['x-type']).sql_type)} = %s"
            for f in group
        )
        params = [
            (1 if data[f] else 0)
            if isinstance(data[f], bool) and connection.vendor == "sqlite"
            else data[f]
            for f in group
        ]
        sql = f"SELECT id FROM records_record WHERE object_key = %s AND {where}"
        with connection.cursor() as cursor:
            cursor.execute(
                sql + (" AND id <> %s" if exclude else "") + " LIMIT 1",
                [object_key, *params, *([exclude] if exclude else [])],
            )
            row = cursor.fetchone()
        if row:
            names = ", ".join(group)
            errors.append(
                FieldError(
                    json_path([group[0]]),
                    "unique",
                    f"another {object_key} (#{row[0]}) already has this {names}",
                )
            )
    return errors


def _check_relations(body: dict[str, Any], data: dict[str, Any]) -> list[FieldError]:
    wanted: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for name, prop in body.get("properties", {}).items():
        value = data.get(name)
        if prop["x-type"] == "relation" and isinstance(value, int):
            wanted[prop["x-relation"]["object"]][value].append(name)
        elif prop["x-type"] == "list" and prop.get("items", {}).get("x-type") == "relation":
            target = prop["items"]["x-relation"]["object"]
            for i, item in enumerate(value or []):
                wanted[target][item].append(f"{name}[{i}]")
    errors = []
    for target, ids in wanted.items():
        found = set(
            Record.objects.filter(object_key=target, pk__in=list(ids)).values_list("pk", flat=True)
        )
        for missing in sorted(set(ids) - found):
            for where in ids[missing]:
                errors.append(
                    FieldError(f"$.{where}", "relation", f"there is no {target} with id {missing}")
                )
    return errors


def _validate(object_key: str, data: Any, exclude: int | None = None):
    definition = _definition(object_key)
    body = definition.body
    if isinstance(data, dict):
        data = _normalized(body, data)
    validator_for_version(object_key, definition.version).validate(data)
    errors = _check_unique(object_key, body, data, exclude) + _check_relations(body, data)
    if errors:
        raise ValidationFailed(errors)
    return definition, data


def _save(record: Record, **kwargs) -> None:
    try:
        with transaction.atomic():
            record.save(**kwargs)
    except IntegrityError as exc:  # a concurrent writer won the race on a unique index
        raise ValidationFailed(
            [FieldError("$", "unique", f"a unique field clashes: {exc}")]
        ) from exc


@one_revision()
@transaction.atomic
def create(object_key: str, data: Any, *, actor=None, comment: str = "") -> Record:
    definition, data = _validate(object_key, data)
    record = Record(
        object_key=object_key,
        data=data,
        schema_version=definition.version,
        created_by=actor,
        updated_by=actor,
    )
    _save(record)
    record_change(record, "create", {}, data, actor=actor, comment=comment)
    rollups.after_write(object_key, {}, data)
    write = observers.Write(record.pk, "create", {}, data)
    observers.records_written(object_key, [write])
    observers.records_changed(object_key, [write])
    return record


def _locked(object_key: str | None, record_id: int) -> Record:
    qs = Record.objects.select_for_update()
    if object_key:
        qs = qs.filter(object_key=object_key)
    record = qs.filter(pk=record_id).first()
    if record is None:
        raise RecordNotFound(f"no {object_key or 'record'} with id {record_id}")
    return record


@one_revision()
def update(
    object_key: str,
    record_id: int,
    changes: dict[str, Any],
    *,
    version: int,
    actor=None,
    comment: str = "",
    locked: Record | None = None,
) -> Record:
    """Apply ``changes`` (a null value clears a field) to the record at ``version``.

    ``locked``: the record as the caller read it with ``select_for_update`` in the current
    transaction (a flow step that has locked its subject), saving a second locking read and
    the savepoint: that caller's own atomic block decides what a failure rolls back.
    """
    with transaction.atomic(savepoint=locked is None):
        return _update(object_key, record_id, changes, version, actor, comment, locked)


def _update(
    object_key: str,
    record_id: int,
    changes: dict[str, Any],
    version: int,
    actor: Any,
    comment: str,
    locked: Record | None,
) -> Record:
    if not isinstance(changes, dict):
        raise ValidationFailed([FieldError("$", "type", "changes are a JSON object")])
    if locked is not None and locked.pk == record_id and locked.object_key == object_key:
        record = locked
    else:
        record = _locked(object_key, record_id)
    if record.version != version:
        raise VersionConflict(record_id, version, record.version)
    old = record.data
    merged = {k: v for k, v in {**old, **changes}.items() if v is not None}
    definition, merged = _validate(object_key, merged, exclude=record.pk)
    values = {
        "data": merged,
        "version": version + 1,
        "schema_version": definition.version,
        "updated_by": actor,
        "updated_at": timezone.now(),
    }
    if write_batch.holding() and connection.vendor == "postgresql":
        # The row is locked by this transaction (above): the write cannot miss, so it can
        # wait for the batch with the step's other rows.
        for name, value in values.items():
            setattr(record, name, value)
        write_batch.update(record, list(values))
    else:
        updated = Record.objects.filter(pk=record.pk, version=version).update(**values)
        if updated != 1:  # only reachable where row locks are not taken
            raise VersionConflict(record_id, version, version + 1)
        for name, value in values.items():  # what the row now holds, without reading it back
            setattr(record, name, value)
    record_change(record, "update", old, merged, actor=actor, comment=comment)
    rollups.after_write(object_key, old, merged)
    observers.records_changed(object_key, [observers.Write(record.pk, "update", old, merged)])
    return record


@one_revision()
@transaction.atomic
def delete(object_key: str, record_id: int, *, version: int, actor=None) -> None:
    record = _locked(object_key, record_id)
    if record.version != version:
        raise VersionConflict(record_id, version, record.version)
    referrers = _referrers(object_key, record_id)
    if referrers:
        raise ValidationFailed(
            [
                FieldError("$", "protected", f"{n} {obj} record(s) link to it through {field!r}")
                for obj, field, n in referrers
            ]
        )
    keep_creation(record)  # a bulk-created record's create entry is the record itself
    record_change(record, "delete", record.data, {}, actor=actor)
    observers.records_changed(object_key, [observers.Write(record.pk, "delete", record.data, {})])
    record.delete()
    rollups.after_write(object_key, record.data, {})


def _referrers(object_key: str, record_id: int) -> list[tuple[str, str, int]]:
    """Records that point at this one through a relation field (uses the relation index)."""
    from tessera.definitions.models import Definition, Status

    found = []
    for definition in Definition.objects.filter(kind="object", status=Status.PUBLISHED):
        for name, prop in definition.body.get("properties", {}).items():
            rel = prop.get("x-relation") or {}
            if prop["x-type"] == "relation" and rel.get("object") == object_key:
                expr = field_expression(name, SqlType.NUMBER)
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT COUNT(*) FROM records_record "
                        f"WHERE object_key = %s AND {expr} = %s",
                        [definition.key, record_id],
                    )
                    count = cursor.fetchone()[0]
                if count:
                    found.append((definition.key, name, count))
    return found


def add_event(
    record: Record, type: str, payload: dict[str, Any] | None = None, *, at=None
) -> Event:
    event = Event.objects.create(
        subject=record, type=type, payload=payload or {}, occurred_at=at or timezone.now()
    )
    observers.events_added(record.object_key, [record.pk], {type})
    return event
