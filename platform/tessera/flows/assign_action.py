"""The ``assign`` action: (re)assign a run, e.g. as an escalation when an SLA is breached."""

from __future__ import annotations

from typing import Any

from tessera.actions.types import ActionType, Effect, PermanentFailure

from .assignment import STRATEGIES, assign
from .graph import load
from .models import Run


class AssignAction(ActionType):
    """Reassigns the run that performs it: by the workflow's rule, or by the rule given here.

    Only meaningful inside a flow run (``effect.context["run"]``); database-only, so it
    commits with the step that triggered it.
    """

    type = "assign"
    label = {"en": "Assign", "zh": "分配"}
    transactional = True
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "strategy": {"enum": sorted(STRATEGIES)},
            "group": {"type": "string", "minLength": 1, "maxLength": 150},
            "from_field": {"type": "string"},
            "field": {"type": "string"},
        },
    }

    def perform(self, effect: Effect) -> dict[str, Any] | None:
        run_id = (effect.context or {}).get("run")
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            raise PermanentFailure("assign runs inside a flow run only")
        flow = load(run.flow_kind, run.flow_key, run.flow_version)
        rule = {**(flow.options.get("assignment") or {}), **effect.params}
        if "strategy" not in rule:
            raise PermanentFailure("no assignment rule: give a strategy and a group")
        chosen = assign(run, rule, reason="reassigned by an action")
        return {"assignee": chosen.pk if chosen else None}
