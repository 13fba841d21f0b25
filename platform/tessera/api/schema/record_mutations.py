"""create / update / delete for each object: thin, over ``tessera.records.service``.

Each returns the record or a list of errors with a JSON path, code and message; a refused
write changes nothing. Fields the person may not write are refused by path before the
service is called; a record outside the person's rows is "not found", as if absent.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import graphene

from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.records import service
from tessera.records.models import Record

from .. import loaders
from ..errors import field_errors
from .objects import ObjectTypes
from .specs import ObjectSpec


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def input_data(spec: ObjectSpec, given: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """The input as record data (ids as numbers, enums as options) and conversion errors."""
    by_attr = {f"f_{f.prop}": f for f in spec.fields.values()}
    data, errors = {}, []
    for attr, value in given.items():
        field = by_attr[attr]
        value = _plain(value)
        if field.shape in ("relation", "relations") and value is not None:
            ids = value if isinstance(value, list) else [value]
            if not all(str(v).isdigit() and len(str(v)) < 17 for v in ids):
                errors.append(FieldError(f"$.{field.prop}", "type", "a record id is a number"))
                continue
            value = [int(v) for v in ids] if isinstance(value, list) else int(value)
        data[field.prop] = value
    return data, errors


def _denied(spec: ObjectSpec, ctx, data: dict[str, Any]) -> list[FieldError]:
    return [
        FieldError(f"$.{name}", "permission_denied", f"you may not write {spec.key}.{name}")
        for name in ctx.policy.unwritable(spec.key, list(data))
    ]


def _visible(spec: ObjectSpec, ctx, pk: int, action: str) -> bool:
    qs = Record.objects.filter(object_key=spec.key, pk=pk)
    return ctx.policy.rows(spec.key, qs, action).exists()


def _not_found(spec: ObjectSpec, id: Any) -> list[dict[str, str]]:
    return field_errors([FieldError("$.id", "not_found", f"no {spec.key} with id {id}")])


def _result(spec, ctx, record: Record) -> dict[str, Any]:
    if ctx.policy.can(spec.key, "read"):
        loaders.attach([record], spec.key, ctx, spec.prop_names)
        return {"record": record, "errors": []}
    return {"record": None, "errors": []}


def create_field(build, spec: ObjectSpec, types: ObjectTypes) -> graphene.Field:
    def resolve(root, info, input):
        ctx = info.context
        ctx.require(spec.key, "create")
        data, errors = input_data(spec, dict(input))
        errors += _denied(spec, ctx, data)
        if errors:
            return {"record": None, "errors": field_errors(errors)}
        try:
            record = service.create(spec.key, data, actor=ctx.user)
        except ValidationFailed as exc:
            return {"record": None, "errors": exc.as_list()}
        return _result(spec, ctx, record)

    return graphene.Field(
        types.payload,
        required=True,
        input=graphene.Argument(types.input, required=True),
        resolver=resolve,
    )


def update_field(build, spec: ObjectSpec, types: ObjectTypes) -> graphene.Field:
    def resolve(root, info, id, version, input):
        ctx = info.context
        ctx.require(spec.key, "update")
        pk = int(id) if str(id).isdigit() and len(str(id)) < 19 else None
        if pk is None or not _visible(spec, ctx, pk, "update"):
            return {"record": None, "errors": _not_found(spec, id)}
        data, errors = input_data(spec, dict(input))
        errors += _denied(spec, ctx, data)
        if errors:
            return {"record": None, "errors": field_errors(errors)}
        try:
            record = service.update(spec.key, pk, data, version=version, actor=ctx.user)
        except ValidationFailed as exc:
            return {"record": None, "errors": exc.as_list()}
        except service.VersionConflict as exc:
            return {
                "record": None,
                "errors": field_errors([FieldError("$.version", "conflict", str(exc))]),
            }
        except service.RecordNotFound:
            return {"record": None, "errors": _not_found(spec, id)}
        return _result(spec, ctx, record)

    return graphene.Field(
        types.payload,
        required=True,
        id=graphene.ID(required=True),
        version=graphene.Int(required=True),
        input=graphene.Argument(types.input, required=True),
        resolver=resolve,
    )


def delete_field(build, spec: ObjectSpec, types: ObjectTypes) -> graphene.Field:
    from .common import DeletePayload

    def resolve(root, info, id, version):
        ctx = info.context
        ctx.require(spec.key, "delete")
        pk = int(id) if str(id).isdigit() and len(str(id)) < 19 else None
        if pk is None or not _visible(spec, ctx, pk, "delete"):
            return {"ok": False, "errors": _not_found(spec, id)}
        try:
            service.delete(spec.key, pk, version=version, actor=ctx.user)
        except ValidationFailed as exc:
            return {"ok": False, "errors": exc.as_list()}
        except service.VersionConflict as exc:
            return {
                "ok": False,
                "errors": field_errors([FieldError("$.version", "conflict", str(exc))]),
            }
        except service.RecordNotFound:
            return {"ok": False, "errors": _not_found(spec, id)}
        return {"ok": True, "errors": []}

    return graphene.Field(
        DeletePayload,
        required=True,
        id=graphene.ID(required=True),
        version=graphene.Int(required=True),
        resolver=resolve,
    )
