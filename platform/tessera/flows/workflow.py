"""The ``workflow`` kind: what publishing checks, and its compilation to the flow graph.

Checks (on every draft save and at publish), each at its JSON path: the object is published;
states named by ``initial``, ``from``, ``to`` and ``until`` exist; every state is reachable
from the initial one; every state that is not final has a way out; guards parse for the
object; required, state, flag and assignment fields exist on the object with a fitting type;
every action's type is installed and its parameters valid; SLA durations parse and a
reminder comes before its breach; the calendar is published.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from tessera.conditions.tree import parse
from tessera.definitions.cache import published
from tessera.definitions.durations import parse_duration
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.definitions.kinds import KindHandler
from tessera.definitions.models import Definition

from .graph import Flow, FlowKind, Node, Transition

STRING_TYPES = {"string", "text", "enum", "email", "phone", "url"}


def _fields(object_key: str) -> dict[str, dict[str, Any]] | None:
    definition = published("object", object_key)
    return None if definition is None else definition.body.get("properties", {})


def check(body: dict[str, Any], key: str) -> list[FieldError]:
    fields = _fields(body["object"])
    if fields is None:
        return [FieldError("$.object", "unknown_object", f"{body['object']!r} is not published")]
    errors: list[FieldError] = []
    states: dict[str, dict[str, Any]] = body["states"]
    transitions: dict[str, dict[str, Any]] = body.get("transitions", {})

    def field_error(path: str, name: str, types: set[str] | None, what: str) -> None:
        prop = fields.get(name)
        if prop is None:
            errors.append(
                FieldError(path, "unknown_field", f"{body['object']} has no field {name!r}")
            )
        elif types and prop.get("x-type") not in types:
            errors.append(
                FieldError(
                    path,
                    "field_type",
                    f"{what} must be one of {sorted(types)}, not {prop.get('x-type')}",
                )
            )

    if body["initial"] not in states:
        errors.append(FieldError("$.initial", "unknown_state", f"no state {body['initial']!r}"))
    if body.get("state_field"):
        field_error("$.state_field", body["state_field"], STRING_TYPES, "the state field")
        enum = fields.get(body["state_field"], {}).get("enum")
        for name in states:
            if enum is not None and name not in enum:
                errors.append(
                    FieldError(
                        "$.state_field",
                        "enum",
                        f"state {name!r} is not a value of {body['state_field']}",
                    )
                )
    for name, t in transitions.items():
        base = f"$.transitions.{name}"
        for i, source in enumerate(t["from"]):
            if source not in states:
                errors.append(
                    FieldError(f"{base}.from[{i}]", "unknown_state", f"no state {source!r}")
                )
            elif states[source].get("final"):
                errors.append(
                    FieldError(
                        f"{base}.from[{i}]", "final", f"{source!r} is final: a run there has ended"
                    )
                )
        if t["to"] not in states:
            errors.append(
                FieldError(
                    f"{base}.to", "unknown_state", f"transition to nowhere: no state {t['to']!r}"
                )
            )
        if "guard" in t:
            try:
                parse(t["guard"], body["object"], path=["transitions", name, "guard"])
            except ValidationFailed as exc:
                errors += exc.errors
        for i, field in enumerate(t.get("required_fields", [])):
            field_error(f"{base}.required_fields[{i}]", field, None, "")
        if "after" in t:
            errors += _after(t, base)
        for i, role in enumerate(t.get("roles", [])):
            if not role.strip():
                errors.append(FieldError(f"{base}.roles[{i}]", "empty", "a role names a group"))
        errors += _actions(t.get("actions", []), f"{base}.actions", body["object"])
    for name, state in states.items():
        base = f"$.states.{name}"
        for phase in ("on_enter", "on_exit"):
            errors += _actions(state.get(phase, []), f"{base}.{phase}", body["object"])
        for i, rule in enumerate(state.get("sla", [])):
            errors += _sla(rule, f"{base}.sla[{i}]", states, field_error, body["object"])
    if body["initial"] in states:
        errors += _graph_errors(body["initial"], states, transitions)
    if body.get("calendar") and published("calendar", body["calendar"]) is None:
        errors.append(
            FieldError(
                "$.calendar",
                "unknown_calendar",
                f"{body['calendar']!r} is not a published calendar",
            )
        )
    rule = body.get("assignment")
    if rule:
        if rule["strategy"] in ("round_robin", "least_loaded") and not rule.get("group"):
            errors.append(
                FieldError("$.assignment.group", "required", "name the group to assign in")
            )
        if rule["strategy"] == "field":
            if not rule.get("from_field"):
                errors.append(
                    FieldError(
                        "$.assignment.from_field",
                        "required",
                        "name the field that holds the assignee",
                    )
                )
            else:
                field_error("$.assignment.from_field", rule["from_field"], STRING_TYPES, "it")
        if rule.get("field"):
            field_error("$.assignment.field", rule["field"], STRING_TYPES, "the assignee field")
    return errors


def _actions(actions: list[dict[str, Any]], path: str, object_key: str) -> list[FieldError]:
    from tessera.actions import service as outbox

    errors: list[FieldError] = []
    for i, action in enumerate(actions):
        errors += outbox.check(action, object_key=object_key, path=f"{path}[{i}]")
    return errors


def _after(t: dict[str, Any], base: str) -> list[FieldError]:
    try:
        parse_duration(t["after"])
    except ValueError as exc:
        return [FieldError(f"{base}.after", "duration", str(exc))]
    if t.get("required_fields"):
        message = "an automatic transition cannot ask a person for fields"
        return [FieldError(f"{base}.required_fields", "automatic", message)]
    if t.get("comment") == "required":
        return [FieldError(f"{base}.comment", "automatic", "nobody writes an automatic comment")]
    return []


def _sla(rule, path, states, field_error, object_key) -> list[FieldError]:
    errors: list[FieldError] = []
    try:
        within = parse_duration(rule["within"])
    except ValueError as exc:
        return [FieldError(f"{path}.within", "duration", str(exc))]
    from django.utils import timezone

    now = timezone.now()
    if now + within <= now:
        errors.append(FieldError(f"{path}.within", "duration", "an SLA needs a positive duration"))
    if rule.get("remind_before"):
        try:
            before = parse_duration(rule["remind_before"])
            if now + before >= now + within:
                errors.append(
                    FieldError(
                        f"{path}.remind_before",
                        "too_late",
                        "the reminder must come before the breach",
                    )
                )
        except ValueError as exc:
            errors.append(FieldError(f"{path}.remind_before", "duration", str(exc)))
    for i, state in enumerate(rule.get("until", [])):
        if state not in states:
            errors.append(FieldError(f"{path}.until[{i}]", "unknown_state", f"no state {state!r}"))
    if rule.get("flag_field"):
        field_error(f"{path}.flag_field", rule["flag_field"], {"boolean"}, "the breach flag")
    errors += _actions(rule.get("on_breach", []), f"{path}.on_breach", object_key)
    errors += _actions(rule.get("on_remind", []), f"{path}.on_remind", object_key)
    return errors


def _graph_errors(initial: str, states: dict, transitions: dict) -> list[FieldError]:
    edges: dict[str, set[str]] = {name: set() for name in states}
    for t in transitions.values():
        for source in t["from"]:
            if source in edges and t["to"] in states:
                edges[source].add(t["to"])
    seen, queue = {initial}, deque([initial])
    while queue:
        for target in edges[queue.popleft()] - seen:
            seen.add(target)
            queue.append(target)
    errors = [
        FieldError(
            f"$.states.{name}",
            "unreachable",
            f"no transition leads to {name!r} from the initial state {initial!r}",
        )
        for name in states
        if name not in seen
    ]
    errors += [
        FieldError(
            f"$.states.{name}", "no_way_out", f"{name!r} is not final and no transition leaves it"
        )
        for name, state in states.items()
        if not state.get("final") and not edges[name]
    ]
    return errors


def compile_workflow(definition: Definition) -> Flow:
    body = definition.body
    object_key = body["object"]
    nodes = {
        name: Node(id=name, type="state", config=dict(state))
        for name, state in body["states"].items()
    }
    transitions = {
        name: Transition(
            name=name,
            sources=tuple(t["from"]),
            target=t["to"],
            label=t.get("x-label", {}),
            guard=parse(t["guard"], object_key, path=["transitions", name, "guard"])
            if "guard" in t
            else None,
            required_fields=tuple(t.get("required_fields", [])),
            roles=tuple(t.get("roles", [])),
            actions=tuple(t.get("actions", [])),
            comment=t.get("comment", "optional"),
            after=t.get("after"),
        )
        for name, t in body.get("transitions", {}).items()
    }
    return Flow(
        kind="workflow",
        key=definition.key,
        version=definition.version,
        object_key=object_key,
        start=body["initial"],
        nodes=nodes,
        transitions=transitions,
        options={
            "calendar": body.get("calendar"),
            "state_field": body.get("state_field"),
            "assignment": body.get("assignment"),
            "start": body.get("start", "on_create"),
        },
    )


WORKFLOW_KIND = KindHandler(type="workflow", check=check)
WORKFLOW_FLOW = FlowKind(type="workflow", compile=compile_workflow)
