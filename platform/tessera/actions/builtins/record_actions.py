"""Actions on records: set a field, add or remove a tag, create a related record.

All are transactional: they write through ``tessera.records.service`` inside the caller's
transaction, so the change and the outbox row's ``sent`` commit together, or neither does.
"""

from __future__ import annotations

from typing import Any

from tessera.definitions.errors import FieldError
from tessera.records import service as records

from .. import subject
from ..fields import check_field, object_properties, required_fields, subject_errors, value_errors
from ..references import is_reference, reference_errors, resolve
from ..types import ActionType, Effect, sub_path

FIELD_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
OBJECT_KEY = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"}


class SetField(ActionType):
    """Set one field of the subject record to a value (null clears it)."""

    type = "set_field"
    label = {"en": "Set a field", "zh": "设置字段"}
    transactional = True
    params_schema = {
        "type": "object",
        "required": ["field", "value"],
        "additionalProperties": False,
        "properties": {
            "field": FIELD_NAME,
            # any JSON value, or {"$record": "other_field"} / {"$now": true}
            "value": {},
        },
    }

    def check(self, params, *, object_key, path):
        errors = super().check(params, object_key=object_key, path=path)
        if errors:
            return errors
        name, value = params["field"], params["value"]
        errors = check_field(object_key, name, sub_path(path, "field"))
        if errors:
            return errors
        target = object_properties(object_key)[name]
        where = sub_path(path, "value")
        if is_reference(value):
            return reference_errors(value, object_key=object_key, path=where, target=target)
        if value is None:
            if name in required_fields(object_key):
                return [
                    FieldError(where, "required", f"{name!r} is required: it cannot be cleared")
                ]
            return []
        errors = reference_errors(value, object_key=object_key, path=where)
        if errors:
            return errors
        return [
            FieldError(where + e.path[len(sub_path(path, name)) :], e.code, e.message)
            for e in value_errors(object_key, {name: value}, path)
        ]

    def perform(self, effect: Effect) -> dict[str, Any]:
        name = effect.params["field"]

        def compute(data: dict[str, Any]) -> dict[str, Any] | None:
            value = resolve(effect.params["value"], data, effect.record_id)
            if data.get(name) == value:
                return None
            return {name: value}

        record, changed = subject.update(effect, compute)
        return {"changed": changed, "version": record.version}


class _TagAction(ActionType):
    transactional = True
    params_schema = {
        "type": "object",
        "required": ["tag"],
        "additionalProperties": False,
        "properties": {
            "tag": {"type": "string", "minLength": 1, "maxLength": 200},
            "field": {**FIELD_NAME, "default": "tags"},
        },
    }

    def check(self, params, *, object_key, path):
        errors = super().check(params, object_key=object_key, path=path)
        if errors:
            return errors
        name = params.get("field", "tags")
        errors = check_field(object_key, name, sub_path(path, "field"), x_types={"list"})
        if errors:
            if "field" not in params and errors[0].code == "unknown_field":
                message = f"{object_key} has no 'tags' field: name the list field with 'field'"
                return [FieldError(sub_path(path, "field"), "unknown_field", message)]
            return errors
        # the tag must fit the list's items (a string of its length, an enum's option…)
        return [
            FieldError(sub_path(path, "tag"), e.code, e.message)
            for e in value_errors(object_key, {name: [params["tag"]]}, "$")
        ]

    def change(self, tags: list[Any], tag: str) -> list[Any] | None:
        raise NotImplementedError

    def perform(self, effect: Effect) -> dict[str, Any]:
        name = effect.params.get("field", "tags")
        tag = effect.params["tag"]

        def compute(data: dict[str, Any]) -> dict[str, Any] | None:
            changed = self.change(list(data.get(name) or []), tag)
            return None if changed is None else {name: changed}

        record, changed = subject.update(effect, compute)
        return {"changed": changed, "version": record.version}


class AddTag(_TagAction):
    """Add a tag to a list field of the subject record (``tags`` unless named); no duplicates."""

    type = "add_tag"
    label = {"en": "Add a tag", "zh": "添加标签"}

    def change(self, tags, tag):
        return None if tag in tags else [*tags, tag]


class RemoveTag(_TagAction):
    """Remove a tag from a list field of the subject record, if it is there."""

    type = "remove_tag"
    label = {"en": "Remove a tag", "zh": "移除标签"}

    def change(self, tags, tag):
        return [t for t in tags if t != tag] if tag in tags else None


class CreateRecord(ActionType):
    """Create a record of another (or the same) object, with values from the subject record.

    ``{"object": "task", "data": {"customer": {"$record": "id"}, "title": "Call back"}}``
    """

    type = "create_record"
    label = {"en": "Create a record", "zh": "创建记录"}
    transactional = True
    params_schema = {
        "type": "object",
        "required": ["object", "data"],
        "additionalProperties": False,
        "properties": {
            "object": OBJECT_KEY,
            "data": {"type": "object", "propertyNames": FIELD_NAME, "maxProperties": 200},
        },
    }

    def check(self, params, *, object_key, path):
        errors = super().check(params, object_key=object_key, path=path)
        if errors:
            return errors
        target_key, data = params["object"], params["data"]
        target = object_properties(target_key)
        if target is None:
            return subject_errors(target_key, sub_path(path, "object"))
        data_path = sub_path(path, "data")
        errors = []
        literals = {}
        for name, value in data.items():
            where = sub_path(data_path, name)
            if name not in target:
                known = ", ".join(sorted(target))
                message = f"{name!r} is not a field of {target_key}; fields: {known}"
                errors.append(FieldError(where, "unknown_field", message))
            elif is_reference(value):
                errors += reference_errors(
                    value, object_key=object_key, path=where, target=target[name]
                )
            else:
                errors += reference_errors(value, object_key=object_key, path=where)
                literals[name] = value
        if literals and not errors:
            errors += value_errors(target_key, literals, data_path)
        for name in required_fields(target_key):
            if name not in data:
                errors.append(FieldError(data_path, "required", f"{target_key} requires {name!r}"))
        return errors

    def perform(self, effect: Effect) -> dict[str, Any]:
        data = None
        if effect.record_id is not None:
            data = subject.load(effect).data
        values = resolve(effect.params["data"], data, effect.record_id)
        created = records.create(
            effect.params["object"],
            {k: v for k, v in values.items() if v is not None},
            actor=subject.actor(effect),
            comment=subject.comment(effect),
        )
        return {"record_id": created.pk, "object": created.object_key}
