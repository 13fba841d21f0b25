"""Starting runs and moving them: the one place GraphQL, the admin and the UI call.

A transition is one transaction: the run row is locked and its version compared (two people
moving a ticket from the same state: the second gets VersionConflict), the person's roles,
the fields they filled, the guard on the record as it will be, then exit actions, the
transition's actions and the new state's entry, SLA clocks and history. Any refusal raises
and rolls everything back, so a ticket is never half-moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from tessera import write_batch
from tessera.conditions.evaluate import evaluate
from tessera.definitions.cache import one_revision, published_keys, revision_read
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.definitions.models import DefinitionsRevision
from tessera.records.models import Record
from tessera.records.service import VersionConflict as RecordVersionConflict
from tessera.records.service import update as update_record

from . import runtime
from .assignment import assign
from .errors import RunNotActive, TransitionRefused, VersionConflict
from .graph import Flow, Transition, load
from .models import Run, RunStatus, Step, StepKind


@one_revision()
@transaction.atomic
def start(workflow_key: str, record_id: int, *, actor: Any = None, kind: str = "workflow") -> Run:
    """Start a run of the published version for a record; the run enters the initial node."""
    flow = load(kind, workflow_key)
    record = Record.objects.select_for_update().filter(pk=record_id).first()
    if record is None or record.object_key != flow.object_key:
        raise TransitionRefused(
            [FieldError("$.record", "not_found", f"no {flow.object_key} with id {record_id}")]
        )
    if (
        kind == "workflow"
        and Run.objects.filter(
            flow_kind=kind, flow_key=workflow_key, subject=record, status=RunStatus.ACTIVE
        ).exists()
    ):
        raise TransitionRefused(
            [FieldError("$.record", "already_running", f"{workflow_key} already runs for it")]
        )
    run = Run.objects.create(
        flow_kind=kind,
        flow_key=flow.key,
        flow_version=flow.version,
        subject=record,
        object_key=flow.object_key,
        node="",
        started_by=actor if getattr(actor, "pk", None) else None,
    )
    # The assignee and the state land on the record in one write, one record version.
    changes: dict[str, Any] = {}
    rule = flow.options.get("assignment")
    if rule:
        chosen = assign(run, rule, actor=actor, reason="assigned at start", write_record=False)
        if rule.get("field"):
            changes[rule["field"]] = chosen.get_username() if chosen else None
    state_field, first = flow.options.get("state_field"), flow.nodes[flow.start]
    if state_field and first.type == "state":
        changes[state_field] = first.id
    changes = {k: v for k, v in changes.items() if record.data.get(k) != v}
    if changes:
        record = update_record(
            record.object_key,
            record.pk,
            changes,
            version=record.version,
            actor=actor,
            comment=f"{kind} {workflow_key} started",
            locked=record,
        )
    return runtime.enter(
        run, flow, flow.start, actor=actor, step={"kind": StepKind.START}, record=record
    )


def start_for_new_records(object_key: str, record_ids: list[int]) -> list[Run]:
    """Start every workflow of ``object_key`` that starts ``on_create``, for new records."""
    runs = []
    for key in sorted(published_keys("workflow")):
        flow = load("workflow", key)
        if flow.object_key == object_key and flow.options.get("start") == "on_create":
            runs += [start(key, record_id) for record_id in record_ids]
    return runs


def _refusal(path: str, code: str, message: str) -> TransitionRefused:
    return TransitionRefused([FieldError(path, code, message)])


def _allowed(transition: Transition, actor: Any) -> bool:
    """No roles: anyone who may update the record. ``actor=None`` is the system itself."""
    if not transition.roles or actor is None or getattr(actor, "is_superuser", False):
        return True
    return not _group_names(actor).isdisjoint(transition.roles)


def _group_names(actor: Any) -> frozenset[str]:
    """The actor's groups, read once per user object, as Django caches permissions on it.

    A request loads its user afresh, so a change of groups counts from the next request on.
    """
    names = getattr(actor, "_tessera_group_names", None)
    if names is None:
        names = frozenset(actor.groups.values_list("name", flat=True))
        actor._tessera_group_names = names
    return names


def _check_fields(transition: Transition, fields: dict[str, Any], data: dict[str, Any]) -> None:
    errors = [
        FieldError(
            f"$.fields.{name}", "not_allowed", f"{transition.name} does not ask for {name!r}"
        )
        for name in fields
        if name not in transition.required_fields
    ]
    merged = {**data, **fields}
    errors += [
        FieldError(f"$.fields.{name}", "required", f"{transition.name} needs {name!r} filled")
        for name in transition.required_fields
        if merged.get(name) in (None, "", [], {})
    ]
    if errors:
        raise TransitionRefused(errors)


@one_revision()
@transaction.atomic
def transition(
    run_id: int,
    name: str,
    *,
    actor: Any = None,
    version: int,
    fields: dict[str, Any] | None = None,
    comment: str = "",
) -> Run:
    """Take transition ``name`` of the run at ``version``; see the module docstring."""
    fields = fields or {}
    run = _lock_with_subject(run_id)
    if run is None:
        raise _refusal("$.run", "not_found", f"no run {run_id}")
    if run.version != version:
        raise VersionConflict(run_id, version, run.version)
    if run.status != RunStatus.ACTIVE:
        raise RunNotActive(f"run {run_id} is {run.status}")
    flow = load(run.flow_kind, run.flow_key, run.flow_version)
    chosen = flow.transitions.get(name)
    if chosen is None:
        raise _refusal("$.transition", "unknown", f"{flow.key} has no transition {name!r}")
    if not _allowed(chosen, actor):
        raise _refusal("$.actor", "forbidden", f"{name!r} is for {', '.join(chosen.roles)} only")
    if chosen.comment == "required" and not comment.strip():
        raise _refusal("$.comment", "required", f"{name!r} needs a comment")
    # The rows the move writes (ticket, history, step, timers, run) leave in one round trip.
    with write_batch.batch():
        return take(
            run, flow, chosen, actor=actor, fields=fields, comment=comment, record=run.subject
        )


@dataclass(frozen=True)
class _LockQuery:
    sql: str
    run_fields: list[str]
    record_fields: list[str]
    converters: list[tuple[int, list[Any], Any]]  # (column index, converters, expression)


@cache
def _lock_query(vendor: str) -> _LockQuery:
    connection = next(c for c in connections.all() if c.vendor == vendor)
    quote = connection.ops.quote_name
    columns, converters = [], []
    for alias, model in (("r", Run), ("s", Record)):
        for field in model._meta.concrete_fields:
            expression = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(expression) + field.get_db_converters(
                connection
            )
            if found:
                converters.append((len(columns), found, expression))
            columns.append(f"{alias}.{quote(field.column)}")
    revision = f"FROM {quote(DefinitionsRevision._meta.db_table)} WHERE id = 1"
    columns += [f"(SELECT revision {revision})", f"(SELECT token {revision})"]
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(Run._meta.db_table)} r "
        f"JOIN {quote(Record._meta.db_table)} s ON s.id = r.subject_id WHERE r.id = %s"
    )
    return _LockQuery(
        sql + (" FOR UPDATE" if connection.features.has_select_for_update else ""),
        [f.attname for f in Run._meta.concrete_fields],
        [f.attname for f in Record._meta.concrete_fields],
        converters,
    )


def _lock_with_subject(run_id: int) -> Run | None:
    """The run with its subject, both rows locked, in one read (``FOR UPDATE`` over a join
    locks every joined row), and the definitions revision read with them. Written by hand:
    compiling the ORM's version of this query took longer than running it.
    """
    connection = connections["default"]
    query = _lock_query(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(query.sql, [run_id])
        row = cursor.fetchone()
    if row is None:
        return None
    *values, revision, token = row
    revision_read((revision, token) if token is not None else (0, "initial"))
    for index, converters, expression in query.converters:
        for convert in converters:
            values[index] = convert(values[index], expression, connection)
    split = len(query.run_fields)
    run = Run.from_db("default", query.run_fields, values[:split])
    subject = Record.from_db("default", query.record_fields, values[split:])
    Run.subject.field.set_cached_value(run, subject)
    return run


def take(
    run: Run,
    flow: Flow,
    chosen: Transition,
    *,
    actor: Any = None,
    fields: dict[str, Any] | None = None,
    comment: str = "",
    kind: str = StepKind.TRANSITION,
    record: Record | None = None,
) -> Run:
    """Move a locked, active run along ``chosen``: fields, guard, exit, actions, entry.

    ``record``: the subject, if the caller locked it with the run.
    """
    fields = fields or {}
    if run.node not in chosen.sources:
        raise _refusal(
            "$.transition", "not_available", f"{chosen.name!r} does not leave {run.node!r}"
        )
    if record is None:
        record = Record.objects.select_for_update().get(pk=run.subject_id)
    _check_fields(chosen, fields, record.data)
    changes = dict(fields)
    # The state field moves in the same write as the person's fields: one record version.
    target, state_field = flow.nodes[chosen.target], flow.options.get("state_field")
    if state_field and target.type == "state" and record.data.get(state_field) != target.id:
        changes[state_field] = target.id
    if changes:
        record = _write_fields(record, changes, actor, comment or chosen.name)
    if chosen.guard is not None and not evaluate(chosen.guard, record):
        raise _refusal("$.guard", "guard", f"the record does not meet the guard of {chosen.name!r}")
    _leave(run, flow, chosen, actor)
    return runtime.enter(
        run,
        flow,
        chosen.target,
        actor=actor,
        record=record,
        step={
            "kind": kind,
            "transition": chosen.name,
            "comment": comment,
            "data": {"fields": sorted(fields)},
        },
    )


def _write_fields(record: Record, fields: dict[str, Any], actor: Any, comment: str) -> Record:
    try:
        return update_record(
            record.object_key,
            record.pk,
            fields,
            version=record.version,
            actor=actor,
            comment=comment,
            locked=record,
        )
    except ValidationFailed as exc:
        raise TransitionRefused(
            [FieldError(e.path.replace("$", "$.fields", 1), e.code, e.message) for e in exc.errors]
        ) from exc
    except RecordVersionConflict as exc:  # the record is locked above: only a bug gets here
        raise _refusal("$.fields", "conflict", str(exc)) from exc


def _leave(run: Run, flow: Flow, chosen: Transition, actor: Any) -> None:
    from tessera.timers import service as timers

    if any(t.after for t in flow.transitions_from(run.node)):
        timers.cancel(run.timer_owner)  # the automatic moves the state armed; SLAs settle
    visit = run.visits
    state = flow.nodes[run.node]
    runtime.run_actions(
        run, flow, state.config.get("on_exit", []), key=f"{visit}:exit", actor=actor
    )
    runtime.run_actions(run, flow, chosen.actions, key=f"{visit}:t.{chosen.name}", actor=actor)


def available(run: Run, actor: Any = None) -> list[dict[str, Any]]:
    """The transitions out of the run's state, and whether ``actor`` may take each."""
    if run.status != RunStatus.ACTIVE:
        return []
    flow = load(run.flow_kind, run.flow_key, run.flow_version)
    return [
        {
            "name": t.name,
            "label": t.label,
            "to": t.target,
            "required_fields": list(t.required_fields),
            "comment": t.comment,
            "allowed": _allowed(t, actor),
        }
        for t in flow.transitions_from(run.node)
    ]


def history(run: Run) -> list[Step]:
    return list(run.steps.order_by("at", "pk"))


@transaction.atomic
def cancel(run_id: int, *, actor: Any = None, comment: str = "") -> Run:
    run = Run.objects.select_for_update().get(pk=run_id)
    if run.status != RunStatus.ACTIVE:
        raise RunNotActive(f"run {run_id} is {run.status}")
    return runtime.finish(run, RunStatus.CANCELLED, actor=actor, error=comment)


@transaction.atomic
def migrate_runs(
    workflow_key: str,
    *,
    to_version: int | None = None,
    state_map: dict[str, str] | None = None,
    actor: Any = None,
) -> int:
    """Move active runs of older versions onto ``to_version`` (default: the published one).

    A run's state carries over by name unless ``state_map`` maps it; a state that exists in
    neither is refused for all runs at once, before any moves. The state's SLA clocks keep
    running; moved runs take the new version's transitions from here on.
    """
    target = load("workflow", workflow_key, to_version)
    state_map = state_map or {}
    runs = list(
        Run.objects.select_for_update()
        .filter(flow_kind="workflow", flow_key=workflow_key, status=RunStatus.ACTIVE)
        .exclude(flow_version=target.version)
    )
    missing = sorted(
        {run.node for run in runs if state_map.get(run.node, run.node) not in target.nodes}
    )
    if missing:
        raise TransitionRefused(
            [
                FieldError(
                    f"$.state_map.{node}",
                    "unmapped",
                    f"v{target.version} has no state {node!r}: map it",
                )
                for node in missing
            ]
        )
    now = timezone.now()
    for run in runs:
        old_version, old_node = run.flow_version, run.node
        run.flow_version, run.node = target.version, state_map.get(run.node, run.node)
        run.version += 1
        run.save()
        runtime.record_step(
            run,
            StepKind.MIGRATE,
            from_node=old_node,
            to_node=run.node,
            actor=actor,
            data={"from_version": old_version, "to_version": target.version, "at": str(now)},
        )
    return len(runs)
