"""Publishing an object definition against the records already stored.

Adding an optional field is free. Anything else that would leave stored records invalid
(renaming, removing, changing a type, narrowing an enum, a new required field) is refused
with a report, unless the publish carries a migration, which then runs in the publishing
transaction::

    {"rename": {"mobile": "phone"},
     "convert": {"age": {"on_error": "fail" | "clear"}, "level": {"map": {"gold": "vip"}}},
     "drop": ["fax"]}

``preview`` runs the same walk without writing, for the builder and the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tessera.definitions.errors import FieldError, ValidationFailed, json_path
from tessera.definitions.kinds import KindHandler
from tessera.definitions.models import Definition, Status
from tessera.definitions.object_schema import compile_object_schema, object_body_errors
from tessera.definitions.service import PublishRefused
from tessera.plugins import field_types

from . import rollups
from .bulk_writes import write_changes
from .history import field_changes
from .indexes import existing_index_names, sync_indexes, unique_clashes, wanted_indexes
from .loading import load_records
from .models import Record
from .validation import RecordValidator

EXAMPLES_PER_FIELD = 5
MIGRATION_KEYS = {"rename", "convert", "drop"}


def check(body: dict[str, Any], key: str) -> list[FieldError]:
    objects = set(
        Definition.objects.filter(kind="object", status=Status.PUBLISHED).values_list(
            "key", flat=True
        )
    ) | {key}
    errors = object_body_errors(body, objects)
    if not errors:
        errors = [
            FieldError(json_path(path), code, message)
            for path, code, message in rollups.spec_problems(body)
        ]
    return errors


def migration_errors(migration: Any, old: dict[str, Any], new: dict[str, Any]) -> list[FieldError]:
    if not isinstance(migration, dict):
        return [FieldError("$.migration", "type", "a migration is a JSON object")]
    shapes = {"rename": dict, "convert": dict, "drop": list}
    wrong = [
        FieldError(
            json_path(["migration", step]),
            "type",
            f"{step} is a JSON {'object' if shape is dict else 'list'}",
        )
        for step, shape in shapes.items()
        if migration.get(step) is not None and not isinstance(migration[step], shape)
    ]
    rename = migration.get("rename") if isinstance(migration.get("rename"), dict) else {}
    wrong += [
        FieldError(json_path(["migration", "rename", src]), "type", "a new name is a text")
        for src, dst in rename.items()
        if not isinstance(dst, str)
    ]
    drop = migration.get("drop") if isinstance(migration.get("drop"), list) else []
    wrong += [
        FieldError(json_path(["migration", "drop", i]), "type", "a field name is a text")
        for i, name in enumerate(drop)
        if not isinstance(name, str)
    ]
    if wrong:
        return wrong
    errors = []
    for extra in sorted(set(migration) - MIGRATION_KEYS):
        errors.append(
            FieldError(json_path(["migration", extra]), "unknown", "not a migration step")
        )
    old_fields, new_fields = set(old.get("properties", {})), set(new.get("properties", {}))
    for src, dst in (migration.get("rename") or {}).items():
        if src not in old_fields:
            errors.append(
                FieldError(
                    json_path(["migration", "rename", src]),
                    "unknown_field",
                    f"{src!r} is not a field of the published version",
                )
            )
        if dst not in new_fields:
            errors.append(
                FieldError(
                    json_path(["migration", "rename", src]),
                    "unknown_field",
                    f"{dst!r} is not a field of the new version",
                )
            )
    for name, rule in (migration.get("convert") or {}).items():
        if name not in new_fields:
            errors.append(
                FieldError(
                    json_path(["migration", "convert", name]),
                    "unknown_field",
                    f"{name!r} is not a field of the new version",
                )
            )
        if (
            not isinstance(rule, dict)
            or rule.get("on_error", "fail") not in ("fail", "clear")
            or not isinstance(rule.get("map", {}), dict)
        ):
            errors.append(
                FieldError(
                    json_path(["migration", "convert", name]),
                    "invalid",
                    "a conversion is {'on_error': 'fail' | 'clear', 'map': {old: new}}",
                )
            )
    for i, name in enumerate(migration.get("drop") or []):
        if name not in old_fields:
            errors.append(
                FieldError(
                    json_path(["migration", "drop", i]),
                    "unknown_field",
                    f"{name!r} is not a field of the published version",
                )
            )
    return errors


def _transform(
    data: dict[str, Any], new_body: dict[str, Any], migration: dict[str, Any], report: dict
) -> dict[str, Any]:
    out = dict(data)
    for src, dst in (migration.get("rename") or {}).items():
        if src in out:
            out[dst] = out.pop(src)
    for name in migration.get("drop") or []:
        out.pop(name, None)
    for name, rule in (migration.get("convert") or {}).items():
        if name not in out:
            continue
        field_type = field_types.get(new_body["properties"][name]["x-type"])
        mapping = rule.get("map") or {}
        try:
            value = out[name]
            if isinstance(value, str) and value in mapping:
                value = mapping[value]
            out[name] = field_type.convert(value)
        except (ValueError, TypeError, ArithmeticError) as exc:
            if rule.get("on_error", "fail") == "clear":
                out.pop(name)
                report["cleared"] = report.get("cleared", 0) + 1
            else:
                out[name] = {"__unconvertible__": str(exc)}
    return out


WALK_CHUNK = 2000  # records read, judged and (when publishing) written at a time


def _migrated(
    records: list[Record],
    new_body: dict[str, Any],
    migration: dict[str, Any],
    validator: RecordValidator,
    report: dict[str, Any],
) -> list[tuple[Record, dict[str, Any], bool]]:
    """Each record with its data under the new version, and whether that data is valid."""
    datas = [
        _transform(r.data, new_body, migration, report) if migration else r.data for r in records
    ]
    valid = validator.valid_rows(datas)  # proves most at once; the rest one by one below
    out = []
    for record, data, ok in zip(records, datas, valid, strict=True):
        if not ok:
            data = _clear_invalid(data, validator, migration, report)
            ok = validator.is_valid(data)
        out.append((record, data, ok))
    return out


def _chunks_of(object_key: str, *, lock: bool = False) -> Iterator[list[Record]]:
    """The object's records in id order, ``WALK_CHUNK`` at a time (locked, for writing)."""
    last = 0
    while True:
        where = "object_key = %s AND id > %s ORDER BY id LIMIT %s"
        chunk = load_records(where, [object_key, last, WALK_CHUNK], lock=lock)
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def analyse(
    object_key: str, new_body: dict[str, Any], migration: dict[str, Any] | None
) -> dict[str, Any]:
    """Walk every stored record through the migration and the new schema, writing nothing.

    Returns the report: records checked, how many break, per field the count, reasons and
    examples with JSON paths, and how many records the migration would change. It holds a
    chunk of records at a time, so a million records cost no more memory than a thousand.
    """
    validator = RecordValidator(compile_object_schema(new_body))
    migration = migration or {}
    report: dict[str, Any] = {
        "object": object_key,
        "checked": 0,
        "breaking": 0,
        "would_change": 0,
        "fields": {},
    }
    for chunk in _chunks_of(object_key):
        for record, data, ok in _migrated(chunk, new_body, migration, validator, report):
            report["checked"] += 1
            if ok:
                report["would_change"] += data != record.data
            else:
                _count_breaking(report, record, data, validator)
    return report


def _count_breaking(report, record: Record, data: dict[str, Any], validator) -> None:
    report["breaking"] += 1
    counted: set[str] = set()  # a field's count is of records, however many rules break
    for error in validator.errors(data):
        field = _field_of(error, data)
        entry = report["fields"].setdefault(field, {"count": 0, "reasons": [], "examples": []})
        reason = _reason(error, field, data)
        if reason not in entry["reasons"]:
            entry["reasons"].append(reason)
        if field in counted:
            continue
        counted.add(field)
        entry["count"] += 1
        if len(entry["examples"]) < EXAMPLES_PER_FIELD:
            entry["examples"].append(
                {
                    "record": record.pk,
                    "path": error.path if field == "$" else f"$.{field}",
                    "value": record.data.get(field),
                    "message": reason,
                }
            )


def migrate_records(
    object_key: str, new_body: dict[str, Any], migration: dict[str, Any], version: int
) -> int:
    """Write the migration to every record it changes, a locked chunk at a time.

    Runs after ``analyse`` found nothing breaking, in the publishing transaction; each
    chunk is read again under lock, so a record written since the analysis is migrated as
    it is now (and one that a concurrent write made invalid refuses the publish).
    Returns how many records changed.
    """
    validator = RecordValidator(compile_object_schema(new_body))
    comment = f"migrated to {object_key} v{version}"
    changed = 0
    for chunk in _chunks_of(object_key, lock=True):
        records, changes = [], []
        for record, data, ok in _migrated(chunk, new_body, migration, validator, {}):
            if not ok:  # written since the analysis: reported as the analysis reports
                report = {"object": object_key, "checked": 1, "breaking": 0, "fields": {}}
                _count_breaking(report, record, data, validator)
                raise PublishRefused(
                    f"record {record.pk} of {object_key} changed during the publish and "
                    f"would break v{version}; publish again",
                    report,
                )
            if data == record.data:
                continue
            changes.append(field_changes(record.data, data))
            record.data, record.version, record.schema_version = data, record.version + 1, version
            records.append(record)
        write_changes(object_key, records, changes, action="migrate", comment=comment, touch=False)
        changed += len(records)
    return changed


def _clear_invalid(data, validator, migration, report):
    """Values a conversion marked ``on_error: clear`` that still break the schema are cleared."""
    clearable = {
        n for n, r in (migration.get("convert") or {}).items() if r.get("on_error") == "clear"
    }
    if not clearable:
        return data
    bad = {_field_of(e, data) for e in validator.errors(data)} & clearable
    if bad:
        report["cleared"] = report.get("cleared", 0) + len(bad)
        data = {k: v for k, v in data.items() if k not in bad}
    return data


def _field_of(error: FieldError, data: dict[str, Any]) -> str:
    if error.code == "additionalProperties":
        extra = [k for k in data if k in error.message]
        return extra[0] if extra else "$"
    head = error.path[2:].split(".")[0].split("[")[0]
    return head or "$"


def _reason(error: FieldError, field: str, data: dict[str, Any]) -> str:
    value = data.get(field)
    if isinstance(value, dict) and "__unconvertible__" in value:
        return f"cannot convert: {value['__unconvertible__']}"
    if error.code == "additionalProperties":
        return "field removed or renamed in the new version but it holds data"
    return error.message


def _suggestions(previous: dict[str, Any], new: dict[str, Any], report: dict) -> list[str]:
    old_props, new_props = previous.get("properties", {}), new.get("properties", {})
    hints = []
    for field in report["fields"]:
        if field in old_props and field not in new_props:
            hints.append(f"rename {field!r} to a new field, or drop it: {{'drop': ['{field}']}}")
        elif field in old_props and old_props[field]["x-type"] != new_props[field]["x-type"]:
            hints.append(
                f"convert {field!r}: {{'convert': {{'{field}': {{'on_error': 'clear'}}}}}}"
            )
    return hints


def preview(object_key: str, new_body: dict[str, Any], migration: dict[str, Any] | None = None):
    """What publishing ``new_body`` would do to stored records, without writing anything."""
    return analyse(object_key, new_body, migration)


def before_publish(previous: Definition | None, pending: Definition, migration) -> None:
    object_key, new_body = pending.key, pending.body
    previous_body = previous.body if previous else {"properties": {}}
    if previous is not None or Record.objects.filter(object_key=object_key).exists():
        if migration is not None:
            errors = migration_errors(migration, previous_body, new_body)
            if errors:
                raise ValidationFailed(errors)
        report = analyse(object_key, new_body, migration)
        if report["breaking"]:
            report["suggestions"] = _suggestions(previous_body, new_body, report)
            raise PublishRefused(
                f"publishing {object_key} v{pending.version} would break "
                f"{report['breaking']} of {report['checked']} stored record(s)",
                report,
            )
        if report["would_change"]:
            migrate_records(object_key, new_body, migration or {}, pending.version)
    refuse_unique_clashes(object_key, pending.version, new_body)
    sync_indexes(object_key, new_body)
    rollups.rebuild(object_key, new_body)


def unique_clash_report(object_key: str, body: dict[str, Any]) -> dict[str, Any]:
    """Where stored records share a value that a new ``x-unique`` (or unique group) forbids.

    Only unique indexes that do not exist yet are checked: one that exists already keeps its
    values distinct. The report has the shape of ``analyse``'s, so every surface shows both
    the same way.
    """
    have = existing_index_names(object_key)
    report: dict[str, Any] = {"object": object_key, "breaking": 0, "fields": {}}
    for spec in sorted(wanted_indexes(object_key, body), key=lambda s: s.name):
        if not spec.unique or spec.name in have:
            continue
        involved, clashes = unique_clashes(spec, limit=EXAMPLES_PER_FIELD)
        if not involved:
            continue
        names = ", ".join(spec.fields)
        report["breaking"] += involved
        ids = [i for clash in clashes for i in clash.record_ids]
        data = dict(Record.objects.filter(pk__in=ids).values_list("pk", "data"))
        examples = []
        for clash in clashes:
            first = clash.record_ids[0]
            for record_id in clash.record_ids:
                values = [data.get(record_id, {}).get(f) for f in spec.fields]
                examples.append(
                    {
                        "record": record_id,
                        "path": json_path([spec.fields[0]]),
                        "value": values[0] if len(values) == 1 else values,
                        "message": f"{clash.count} records share this {names}"
                        + ("" if record_id == first else f" (like #{first})"),
                    }
                )
        report["fields"][names] = {
            "count": involved,
            "reasons": [
                f"x-unique needs every {names} to be distinct, but {involved} stored "
                f"record(s) share a value with another"
            ],
            "examples": examples,
        }
    if report["fields"]:
        report["checked"] = Record.objects.filter(object_key=object_key).count()
        report["suggestions"] = [
            f"make the stored {names} values distinct (edit or merge those records), or "
            f"publish without making {names} unique"
            for names in report["fields"]
        ]
    return report


def refuse_unique_clashes(object_key: str, version: int, body: dict[str, Any]) -> None:
    """Refuse, with a report, a publish whose new unique index the stored data would break.

    Without this the database would refuse the ``CREATE UNIQUE INDEX`` with an
    IntegrityError that names neither the field nor a record.
    """
    report = unique_clash_report(object_key, body)
    if report["fields"]:
        fields = ", ".join(report["fields"])
        raise PublishRefused(
            f"publishing {object_key} v{version} would make {fields} unique, but "
            f"{report['breaking']} stored record(s) share a value",
            report,
        )


OBJECT_KIND = KindHandler(type="object", check=check, before_publish=before_publish)
