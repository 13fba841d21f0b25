"""``reply_transition``: the customer's reply moves the ticket's workflow on.

The help desk, mail or chat system records a reply as an event on the ticket (through
``/ingest/...``: ``{"type": "customer_replied", "payload": {"text": "solved, thanks"}}``).
This action reads the newest such event: a reply containing one of ``words`` (folded like the
FAQ match, so "已解决" or "Solved!" count) takes ``when_matching`` (close the ticket), any
other reply takes ``otherwise`` (back to an agent). The transition is taken by the system
through the flows service, with its guard, actions and history, in the caller's transaction.
A ticket that is not waiting for a reply (no active run, or its state is not a source of
the transition) is left alone and the action ends ``skipped``.
"""

from __future__ import annotations

from typing import Any

from tessera.actions.fields import object_properties
from tessera.actions.types import ActionType, Effect, Skip, sub_path
from tessera.definitions.cache import published
from tessera.definitions.errors import FieldError
from tessera.records.models import Event

from .faq import fold

NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}


class ReplyTransition(ActionType):
    """Take a workflow transition chosen by the text of the customer's latest reply."""

    type = "reply_transition"
    label = {"en": "Move the ticket on the customer's reply", "zh": "按客户回复流转工单"}
    transactional = True
    params_schema = {
        "type": "object",
        "required": ["workflow", "words", "when_matching"],
        "additionalProperties": False,
        "properties": {
            "workflow": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
            "event": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "default": "customer_replied",
            },
            "text_key": {"type": "string", "minLength": 1, "maxLength": 64, "default": "text"},
            "words": {
                "type": "array",
                "minItems": 1,
                "maxItems": 100,
                "items": {"type": "string", "minLength": 1, "maxLength": 100},
            },
            "when_matching": NAME,
            "otherwise": NAME,
        },
    }

    def check(self, params: dict[str, Any], *, object_key: str | None, path: str):
        errors = super().check(params, object_key=object_key, path=path)
        if errors:
            return errors
        if object_properties(object_key) is None:
            return [FieldError(path, "no_subject", "this action needs a subject record")]
        workflow = published("workflow", params["workflow"])
        where = sub_path(path, "workflow")
        if workflow is None:
            return [
                FieldError(
                    where, "unknown_workflow", f"no published workflow {params['workflow']!r}"
                )
            ]
        if workflow.body["object"] != object_key:
            return [
                FieldError(
                    where, "wrong_object", f"{params['workflow']} runs on {workflow.body['object']}"
                )
            ]
        for name in ("when_matching", "otherwise"):
            if name in params and params[name] not in workflow.body.get("transitions", {}):
                errors.append(
                    FieldError(
                        sub_path(path, name),
                        "unknown_transition",
                        f"{params['workflow']} has no transition {params[name]!r}",
                    )
                )
        return errors

    def perform(self, effect: Effect) -> dict[str, Any]:
        from tessera.flows import service as flows
        from tessera.flows.errors import TransitionRefused
        from tessera.flows.graph import load
        from tessera.flows.models import Run, RunStatus

        params = effect.params
        reply = (
            Event.objects.filter(
                subject_id=effect.record_id, type=params.get("event", "customer_replied")
            )
            .order_by("-occurred_at", "-id")
            .first()
        )
        if reply is None:
            raise Skip("the ticket has no reply")
        text = (
            reply.payload.get(params.get("text_key", "text"))
            if isinstance(reply.payload, dict)
            else None
        )
        text = fold(text) if isinstance(text, str) else ""
        solved = any(fold(word) in text for word in params["words"])
        name = params["when_matching"] if solved else params.get("otherwise")
        if not name:
            raise Skip("the reply does not say the problem is solved")
        run = (
            Run.objects.select_for_update()
            .filter(
                flow_kind="workflow",
                flow_key=params["workflow"],
                subject_id=effect.record_id,
                status=RunStatus.ACTIVE,
            )
            .first()
        )
        if run is None:
            raise Skip(f"no active {params['workflow']} run for this ticket")
        flow = load(run.flow_kind, run.flow_key, run.flow_version)
        chosen = flow.transitions.get(name)
        if chosen is None or run.node not in chosen.sources:
            raise Skip(f"the ticket is {run.node!r}, not waiting for a reply")
        try:
            flows.transition(
                run.pk,
                name,
                version=run.version,
                comment=f"customer replied: {str(reply.payload.get('text', ''))[:200]}",
            )
        except TransitionRefused as exc:
            raise Skip(f"{name} refused: {exc}") from exc
        return {"transition": name, "reply_event": reply.pk}
