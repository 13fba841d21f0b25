"""Merging two records of one object into one, and undoing it.

The survivor keeps its id; the duplicate's fields are taken by rule or by a person's choice,
and everything that pointed at the duplicate is re-pointed at the survivor:

- relation fields of other records (an order's ``customer``), through ``records.service``,
  so each change is validated, versioned, in history and recomputes rollups;
- rows of other tables with a foreign key to the record (events, flow runs, segment
  memberships, campaign entries and opt-outs…, found through Django's model graph, so a
  table added later is moved too), and rows that keep the record's id as ``subject_id``
  (campaign messages: frequency caps count them);
- a row that cannot move because the survivor has one like it already (the same static
  segment, an active run of the same flow) is set aside: runs are cancelled and moved,
  anything else is serialized into the merge and removed with the duplicate.

The duplicate is then deleted through ``records.service.delete`` (history keeps its full
before-image) and the survivor updated. The ``Merge`` row keeps both before-images and
the list of what moved, so ``unmerge`` restores both records, moves everything back and
re-creates what was set aside. Derived rows (rollups) are recomputed, never moved.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core import serializers
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from tessera.definitions.cache import one_revision, published
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.definitions.fields.base import SqlType
from tessera.definitions.models import Definition, Status
from tessera.records import observers, rollups
from tessera.records import service as records
from tessera.records.history import record_change
from tessera.records.indexes import field_expression
from tessera.records.models import Event, Record, RecordChange
from tessera.records.validation import validator_for_version

from .models import DuplicateCandidate, DuplicateStatus, Merge, MergeStatus

RULES = ("fill", "survivor", "duplicate", "newest", "longest", "sum", "union")
DERIVED = {"records.rollup"}  # recomputed from the moved rows, never moved themselves
RUN_MODEL = "flows.run"


def _refused(path: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(path, code, message)])


def merged_data(
    survivor: Record,
    duplicate: Record,
    body: dict[str, Any],
    rules: dict[str, str],
    choices: dict[str, str],
    default: str,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The survivor's data after the merge, and where each field's value came from."""
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    newer = duplicate if duplicate.updated_at > survivor.updated_at else survivor
    for name, prop in body.get("properties", {}).items():
        mine, theirs = survivor.data.get(name), duplicate.data.get(name)
        rule = choices.get(name) or rules.get(name) or default
        value, source = mine, "survivor"
        if rule == "duplicate" or (rule == "fill" and mine in (None, "", [])):
            value, source = theirs, "duplicate"
        elif rule == "newest":
            value = newer.data.get(name)
            source = "duplicate" if newer is duplicate else "survivor"
        elif rule == "longest" and len(str(theirs or "")) > len(str(mine or "")):
            value, source = theirs, "duplicate"
        elif rule == "sum" and prop["x-type"] in ("integer", "decimal", "money"):
            if isinstance(mine, (int, float)) or isinstance(theirs, (int, float)):
                value, source = (mine or 0) + (theirs or 0), "sum"
        elif rule == "union" and isinstance(mine or theirs, list):
            value = list(mine or []) + [v for v in theirs or [] if v not in (mine or [])]
            source = "union"
        if prop["x-type"] == "relation" and value in (survivor.pk, duplicate.pk):
            value = None  # it would point at itself
        if value is not None:
            out[name] = value
            origin[name] = source if value != mine or source != "duplicate" else "survivor"
    return out, origin


def _check_rules(body: dict[str, Any], rules: Any, choices: Any, default: str) -> None:
    errors = []
    properties = body.get("properties", {})
    if default not in RULES:
        errors.append(FieldError("$.default", "invalid", f"a rule is one of {', '.join(RULES)}"))
    for where, given, allowed in (
        ("rules", rules, RULES),
        ("choices", choices, ("survivor", "duplicate")),
    ):
        if not isinstance(given, dict):
            errors.append(FieldError(f"$.{where}", "type", "a JSON object {field: rule}"))
            continue
        for name, rule in given.items():
            if name not in properties:
                errors.append(FieldError(f"$.{where}.{name}", "unknown_field", "no such field"))
            elif rule not in allowed:
                errors.append(
                    FieldError(f"$.{where}.{name}", "invalid", f"one of {', '.join(allowed)}")
                )
    if errors:
        raise ValidationFailed(errors)


def _full_row(record: Record) -> dict[str, Any]:
    return {
        "data": record.data,
        "version": record.version,
        "schema_version": record.schema_version,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "created_by_id": record.created_by_id,
        "updated_by_id": record.updated_by_id,
    }


def _relation_fields(object_key: str) -> list[tuple[str, str, bool]]:
    """(object, field, is a list) of every published relation that targets ``object_key``."""
    found = []
    for definition in Definition.objects.filter(kind="object", status=Status.PUBLISHED):
        for name, prop in definition.body.get("properties", {}).items():
            if prop.get("x-type") == "relation":
                if (prop.get("x-relation") or {}).get("object") == object_key:
                    found.append((definition.key, name, False))
            elif prop.get("x-type") == "list":
                items = prop.get("items") or {}
                target = (items.get("x-relation") or {}).get("object")
                if items.get("x-type") == "relation" and target == object_key:
                    found.append((definition.key, name, True))
    return found


def _pointing_at(object_key: str, name: str, is_list: bool, record_id: int) -> list[int]:
    if not is_list:
        where = f"{field_expression(name, SqlType.NUMBER)} = %s"
    elif connection.vendor == "postgresql":
        where = f"(data -> '{name}') @> jsonb_build_array(%s::bigint)"
    else:
        where = f"EXISTS (SELECT 1 FROM json_each(data, '$.{name}') WHERE value = %s)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM records_record WHERE object_key = %s AND {where} ORDER BY id",
            [object_key, record_id],
        )
        return [row[0] for row in cursor.fetchall()]


def _repoint(
    object_key: str, name: str, is_list: bool, ids: list[int], old: int, new: int, actor, note
) -> list[int]:
    """Point field ``name`` of records ``ids`` from ``old`` to ``new``; returns those changed."""
    changed = []
    for record in Record.objects.filter(pk__in=ids).order_by("pk"):
        value = record.data.get(name)
        if is_list and isinstance(value, list) and old in value:
            moved = [new if v == old else v for v in value]
            value = list(dict.fromkeys(moved))
        elif not is_list and value == old:
            value = new
        else:
            continue
        records.update(
            object_key, record.pk, {name: value}, version=record.version, actor=actor, comment=note
        )
        changed.append(record.pk)
    return changed


def _foreign_keys() -> list[tuple[type[models.Model], str]]:
    """(model, attname) of every foreign key to Record, plus plain ``subject_id`` columns."""
    out = []
    # include_hidden: a foreign key with related_name="+" (memberships, campaign entries)
    for rel in Record._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)):
            continue
        model = rel.related_model
        if model._meta.label_lower in DERIVED or not rel.field.concrete:
            continue
        out.append((model, rel.field.attname))
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if (
                field.name == "subject_id"
                and isinstance(field, models.BigIntegerField)
                and not field.is_relation
            ):
                out.append((model, "subject_id"))
    return out


def _move_rows(duplicate_id: int, survivor_id: int) -> tuple[dict, list, list]:
    """Re-point rows from the duplicate to the survivor: (moved, kept aside, cancelled runs)."""
    moved: dict[str, dict[str, Any]] = {}
    kept_aside: list[str] = []
    cancelled: list[int] = []
    for model, attname in _foreign_keys():
        label = model._meta.label_lower
        ids = list(model.objects.filter(**{attname: duplicate_id}).values_list("pk", flat=True))
        if not ids:
            continue
        done: list[Any] = []
        try:
            with transaction.atomic():
                model.objects.filter(pk__in=ids).update(**{attname: survivor_id})
            done = ids
        except IntegrityError:
            for pk in ids:
                try:
                    with transaction.atomic():
                        model.objects.filter(pk=pk).update(**{attname: survivor_id})
                    done.append(pk)
                except IntegrityError:
                    if label == RUN_MODEL:  # one active run per flow: cancel it, then move
                        model.objects.filter(pk=pk).update(
                            status="cancelled", ended_at=timezone.now()
                        )
                        model.objects.filter(pk=pk).update(**{attname: survivor_id})
                        cancelled.append(pk)
                        done.append(pk)
                    else:
                        row = model.objects.filter(pk=pk)
                        kept_aside.append(serializers.serialize("json", row))
                        row.delete()
        moved[f"{label}.{attname}"] = {"ids": done}
    return moved, kept_aside, cancelled


@one_revision()
@transaction.atomic
def merge(
    object_key: str,
    survivor_id: int,
    duplicate_id: int,
    *,
    rules: dict[str, str] | None = None,
    choices: dict[str, str] | None = None,
    default: str = "fill",
    actor=None,
) -> Merge:
    """Make ``duplicate_id`` part of ``survivor_id``; returns the Merge that can undo it.

    ``default`` decides every field without a rule: ``fill`` (the survivor's value, the
    duplicate's where the survivor has none), ``survivor``, ``duplicate``, ``newest`` (the
    record written last), ``longest``, ``sum`` (numbers), ``union`` (lists). ``rules`` give a
    rule per field, ``choices`` pick a side per field. Refused with ValidationFailed.
    """
    rules, choices = rules or {}, choices or {}
    definition = published("object", object_key)
    if definition is None:
        raise _refused("$.object", "unknown_object", f"{object_key!r} is not published")
    _check_rules(definition.body, rules, choices, default)
    if survivor_id == duplicate_id:
        raise _refused("$.duplicate", "same", "a record cannot be merged into itself")
    locked = {
        r.pk: r
        for r in Record.objects.select_for_update()
        .filter(object_key=object_key, pk__in=[survivor_id, duplicate_id])
        .order_by("pk")
    }
    for path, pk in (("$.survivor", survivor_id), ("$.duplicate", duplicate_id)):
        if pk not in locked:
            raise _refused(path, "not_found", f"no {object_key} with id {pk}")
    survivor, duplicate = locked[survivor_id], locked[duplicate_id]
    data, origin = merged_data(survivor, duplicate, definition.body, rules, choices, default)
    entry = Merge.objects.create(
        object_key=object_key,
        survivor_id=survivor_id,
        duplicate_id=duplicate_id,
        survivor_before=_full_row(survivor),
        duplicate_before=_full_row(duplicate),
        survivor_version=survivor.version,
        choices=origin,
        actor=actor,
    )
    note = f"merge #{entry.pk}: {object_key} #{duplicate_id} into #{survivor_id}"

    relations = []
    for source, name, is_list in _relation_fields(object_key):
        ids = [
            i
            for i in _pointing_at(source, name, is_list, duplicate_id)
            if i not in (survivor_id, duplicate_id)
        ]
        changed = _repoint(source, name, is_list, ids, duplicate_id, survivor_id, actor, note)
        relations += [
            {"object": source, "field": name, "list": is_list, "record": i} for i in changed
        ]
    moved, kept_aside, cancelled = _move_rows(duplicate_id, survivor_id)

    survivor.refresh_from_db()
    pointing = {
        n: None
        for n, p in definition.body.get("properties", {}).items()
        if p.get("x-type") == "relation" and survivor.data.get(n) == duplicate_id
    }
    if pointing:  # the survivor itself links to the duplicate: that link goes first
        records.update(
            object_key, survivor_id, pointing, version=survivor.version, actor=actor, comment=note
        )
    duplicate.refresh_from_db()
    records.delete(object_key, duplicate_id, version=duplicate.version, actor=actor)
    RecordChange.objects.filter(record_id=duplicate_id, action="delete").update(comment=note)
    survivor.refresh_from_db()
    changes = {k: data.get(k) for k in set(survivor.data) | set(data)}
    if data != survivor.data:
        survivor = records.update(
            object_key, survivor_id, changes, version=survivor.version, actor=actor, comment=note
        )
    entry.survivor_version = survivor.version
    entry.moved = {"relations": relations, "rows": moved, "cancelled_runs": cancelled}
    entry.kept_aside = kept_aside
    entry.save(update_fields=["survivor_version", "moved", "kept_aside"])
    types = set(Event.objects.filter(subject_id=survivor_id).values_list("type", flat=True))
    if types:
        observers.events_added(object_key, [survivor_id], types)
    pair = sorted([survivor_id, duplicate_id])
    DuplicateCandidate.objects.filter(
        object_key=object_key, first_id=pair[0], second_id=pair[1]
    ).update(status=DuplicateStatus.MERGED, merge=entry)
    return entry


@one_revision()
@transaction.atomic
def unmerge(entry: Merge, *, actor=None) -> Merge:
    """Undo a merge: both records as they were, everything moved back, set-aside rows back.

    Refused if the survivor was written since the merge (its later changes would be lost);
    the error names its version.
    """
    entry = Merge.objects.select_for_update().get(pk=entry.pk)
    if entry.status != MergeStatus.MERGED:
        raise _refused("$.merge", "reversed", f"merge #{entry.pk} was already undone")
    key, survivor_id, duplicate_id = entry.object_key, entry.survivor_id, entry.duplicate_id
    survivor = Record.objects.select_for_update().filter(pk=survivor_id, object_key=key).first()
    if survivor is None:
        raise _refused("$.survivor", "not_found", f"{key} #{survivor_id} no longer exists")
    if survivor.version != entry.survivor_version:
        raise _refused(
            "$.survivor",
            "changed",
            f"{key} #{survivor_id} was written since the merge (version {survivor.version}, "
            f"merged at {entry.survivor_version}); undo those changes first",
        )
    if Record.objects.filter(pk=duplicate_id).exists():
        raise _refused("$.duplicate", "exists", f"a record #{duplicate_id} exists again")
    note = f"unmerge of merge #{entry.pk}"
    before = entry.survivor_before["data"]
    changes = {k: before.get(k) for k in set(survivor.data) | set(before)}
    if before != survivor.data:
        records.update(
            key, survivor_id, changes, version=survivor.version, actor=actor, comment=note
        )
    _restore_duplicate(entry, actor, note)

    moved = entry.moved or {}
    for label_field, info in (moved.get("rows") or {}).items():
        label, attname = label_field.rsplit(".", 1)
        model = apps.get_model(label)
        model.objects.filter(pk__in=info["ids"], **{attname: survivor_id}).update(
            **{attname: duplicate_id}
        )
    cancelled = moved.get("cancelled_runs") or []
    if cancelled:
        apps.get_model(RUN_MODEL).objects.filter(pk__in=cancelled).update(
            status="active", ended_at=None
        )
    for text in entry.kept_aside or []:
        for obj in serializers.deserialize("json", text):
            obj.save()
    for item in moved.get("relations") or []:
        record = Record.objects.filter(pk=item["record"]).first()
        if record is None:
            continue
        _repoint(
            item["object"], item["field"], item["list"], [record.pk], survivor_id, duplicate_id,
            actor, note,
        )  # fmt: skip
    for subject in (survivor_id, duplicate_id):
        types = set(Event.objects.filter(subject_id=subject).values_list("type", flat=True))
        if types:
            observers.events_added(key, [subject], types)
    entry.status, entry.reversed_at = MergeStatus.REVERSED, timezone.now()
    entry.save(update_fields=["status", "reversed_at"])
    pair = sorted([survivor_id, duplicate_id])
    DuplicateCandidate.objects.filter(object_key=key, first_id=pair[0], second_id=pair[1]).update(
        status=DuplicateStatus.OPEN, merge=None
    )
    return entry


def _restore_duplicate(entry: Merge, actor, note: str) -> Record:
    row = entry.duplicate_before
    definition = published("object", entry.object_key)
    data = row["data"]
    validator_for_version(entry.object_key, definition.version).validate(data)
    record = Record(
        pk=entry.duplicate_id,
        object_key=entry.object_key,
        data=data,
        version=row["version"] + 1,
        schema_version=definition.version,
        created_by_id=row["created_by_id"],
        updated_by=actor,
    )
    try:
        with transaction.atomic():
            record.save(force_insert=True)
    except IntegrityError as exc:
        raise _refused("$.duplicate", "unique", f"a unique field clashes: {exc}") from exc
    Record.objects.filter(pk=record.pk).update(created_at=row["created_at"])
    record_change(record, "create", {}, data, actor=actor, comment=note)
    rollups.after_write(entry.object_key, {}, data)
    write = observers.Write(record.pk, "create", {}, data)
    observers.records_changed(entry.object_key, [write])
    return record
