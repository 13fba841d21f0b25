"""Flow runs in GraphQL: read a run and its available transitions, start one, move one.

Thin over ``tessera.flows.service``: it checks the person may update the subject record
(and write the fields a transition fills), then maps the service's refusals to errors with
paths, as record mutations do. The flow itself checks roles, guards and required fields.
"""

from __future__ import annotations

from typing import Any

import graphene

from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.flows import service as flows
from tessera.flows.errors import RunNotActive, TransitionRefused, VersionConflict
from tessera.flows.graph import FlowNotFound
from tessera.flows.models import Run
from tessera.records.models import Record

from ..errors import FieldErrorType, field_errors
from ..scalars import JSON


class AvailableTransition(graphene.ObjectType):
    name = graphene.String(required=True)
    label = JSON()
    to = graphene.String(required=True)
    required_fields = graphene.List(graphene.NonNull(graphene.String), required=True)
    comment = graphene.String()
    allowed = graphene.Boolean(required=True)


class RunType(graphene.ObjectType):
    """One record walking one flow: where it is, and the optimistic-lock version."""

    class Meta:
        name = "Run"

    id = graphene.ID(required=True)
    flow_kind = graphene.String(required=True)
    flow_key = graphene.String(required=True)
    flow_version = graphene.Int(required=True)
    record_id = graphene.ID(required=True)
    node = graphene.String(required=True)
    status = graphene.String(required=True)
    version = graphene.Int(required=True)
    transitions = graphene.List(graphene.NonNull(AvailableTransition), required=True)

    @staticmethod
    def resolve_record_id(root, info):
        return root.subject_id

    @staticmethod
    def resolve_transitions(root, info):
        return flows.available(root, info.context.user)


class RunPayload(graphene.ObjectType):
    run = graphene.Field(RunType)
    errors = graphene.List(graphene.NonNull(FieldErrorType), required=True)


def _pk(value: Any) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() and len(text) < 19 else None


def _refused(path: str, code: str, message: str) -> dict[str, Any]:
    return {"run": None, "errors": field_errors([FieldError(path, code, message)])}


def _may_update(ctx, record: Record | None) -> bool:
    if record is None or not ctx.policy.can(record.object_key, "update"):
        return False
    qs = Record.objects.filter(pk=record.pk)
    return ctx.policy.rows(record.object_key, qs, "update").exists()


def _run(root, info, id):
    ctx = info.context
    run = Run.objects.select_related("subject").filter(pk=_pk(id)).first() if _pk(id) else None
    if run is None:
        return None
    ctx.require(run.object_key, "read")
    qs = Record.objects.filter(pk=run.subject_id)
    return run if ctx.policy.rows(run.object_key, qs).exists() else None


def _start(root, info, workflow, record_id):
    ctx = info.context
    ctx.require_scope("write")
    pk = _pk(record_id)
    record = Record.objects.filter(pk=pk).first() if pk else None
    if not _may_update(ctx, record):
        return _refused("$.record", "not_found", f"no record {record_id} you may update")
    try:
        run = flows.start(workflow, record.pk, actor=ctx.user)
    except FlowNotFound as exc:
        return _refused("$.workflow", "not_found", str(exc))
    except (TransitionRefused, ValidationFailed) as exc:
        return {"run": None, "errors": field_errors(exc.errors)}
    return {"run": run, "errors": []}


def _transition(root, info, run, name, version, fields=None, comment=""):
    ctx = info.context
    ctx.require_scope("write")
    pk = _pk(run)
    found = Run.objects.select_related("subject").filter(pk=pk).first() if pk else None
    if found is None or not _may_update(ctx, found.subject):
        return _refused("$.run", "not_found", f"no run {run} you may move")
    if fields is not None and not isinstance(fields, dict):
        return _refused("$.fields", "type", "fields are a JSON object")
    denied = ctx.policy.unwritable(found.object_key, list(fields or {}))
    if denied:
        return {
            "run": None,
            "errors": field_errors(
                FieldError(f"$.fields.{n}", "permission_denied", f"you may not write {n}")
                for n in denied
            ),
        }
    try:
        moved = flows.transition(
            found.pk, name, actor=ctx.user, version=version, fields=fields, comment=comment
        )
    except (TransitionRefused, ValidationFailed) as exc:
        return {"run": None, "errors": field_errors(exc.errors)}
    except VersionConflict as exc:
        return _refused("$.version", "conflict", str(exc))
    except RunNotActive as exc:
        return _refused("$.run", "not_active", str(exc))
    except FlowNotFound as exc:
        return _refused("$.run", "not_found", str(exc))
    return {"run": moved, "errors": []}


def query_fields() -> dict[str, graphene.Field]:
    return {"run": graphene.Field(RunType, id=graphene.ID(required=True), resolver=_run)}


def mutation_fields() -> dict[str, graphene.Field]:
    return {
        "start_workflow": graphene.Field(
            RunPayload,
            required=True,
            workflow=graphene.String(required=True),
            record_id=graphene.ID(required=True),
            resolver=_start,
        ),
        "transition_run": graphene.Field(
            RunPayload,
            required=True,
            run=graphene.ID(required=True),
            name=graphene.String(required=True),
            version=graphene.Int(required=True),
            fields=JSON(),
            comment=graphene.String(default_value=""),
            resolver=_transition,
        ),
    }
