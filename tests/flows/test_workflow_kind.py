"""Publishing a workflow refuses a broken graph, naming the path of every problem."""

from __future__ import annotations

import copy

import pytest

from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed

from .conftest import CALENDAR, TICKET

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(db, publish_object):
    publish_object("ticket", TICKET)
    definitions.save_and_publish("calendar", "cn-office", copy.deepcopy(CALENDAR))


def refusal(body) -> dict[str, set[str]]:
    with pytest.raises(ValidationFailed) as refused:
        definitions.save_and_publish("workflow", "returns", body)
    found: dict[str, set[str]] = {}
    for error in refused.value.errors:
        found.setdefault(error.path, set()).add(error.code)
    return found


def test_the_returns_workflow_publishes(ready, returns_body):
    assert definitions.save_and_publish("workflow", "returns", returns_body).version == 1


def test_unreachable_states_transitions_to_nowhere_and_dead_ends(ready, returns_body):
    returns_body["states"]["limbo"] = {}
    returns_body["transitions"]["lose"] = {"from": ["approved"], "to": "nowhere"}
    returns_body["states"]["stuck"] = {}
    returns_body["transitions"]["get_stuck"] = {"from": ["approved"], "to": "stuck"}
    found = refusal(returns_body)
    assert "unreachable" in found["$.states.limbo"]
    assert "unknown_state" in found["$.transitions.lose.to"]
    assert "no_way_out" in found["$.states.stuck"]
    assert "unreachable" in found["$.states.limbo"]


def test_names_that_do_not_exist(ready, returns_body):
    body = copy.deepcopy(returns_body)
    body["initial"] = "start"
    body["transitions"]["approve"]["from"] = ["new", "ghost"]
    body["transitions"]["approve"]["required_fields"] = ["reason", "colour"]
    body["transitions"]["approve"]["guard"] = {"field": "size", "op": "eq", "value": 1}
    body["transitions"]["refund"]["from"] = ["resolved"]
    body["calendar"] = "nowhere"
    body["states"]["new"]["sla"][0]["flag_field"] = "title"
    body["states"]["new"]["sla"][1]["until"] = ["done"]
    body["states"]["new"]["sla"][0]["remind_before"] = "PT5H"
    body["states"]["approved"]["on_enter"] = [{"type": "teleport", "params": {}}]
    body["assignment"] = {"strategy": "round_robin"}
    found = refusal(body)
    assert "unknown_state" in found["$.initial"]
    assert "unknown_state" in found["$.transitions.approve.from[1]"]
    assert "unknown_field" in found["$.transitions.approve.required_fields[1]"]
    assert any(c.startswith("unknown") for c in found["$.transitions.approve.guard.field"])
    assert "final" in found["$.transitions.refund.from[0]"]
    assert "unknown_calendar" in found["$.calendar"]
    assert "field_type" in found["$.states.new.sla[0].flag_field"]
    assert "unknown_state" in found["$.states.new.sla[1].until[0]"]
    assert "too_late" in found["$.states.new.sla[0].remind_before"]
    assert "$.states.approved.on_enter[0].type" in found or "$.states.approved.on_enter[0]" in found
    assert "required" in found["$.assignment.group"]


def test_action_parameters_are_checked_against_the_object(ready, returns_body):
    returns_body["states"]["approved"]["on_enter"] = [
        {"type": "set_field", "params": {"field": "colour", "value": "red"}}
    ]
    found = refusal(returns_body)
    assert any(p.startswith("$.states.approved.on_enter[0].params") for p in found)


def test_shape_errors_come_from_the_meta_schema(ready, returns_body):
    returns_body["transitions"]["approve"]["from"] = "new"
    returns_body["states"]["new"]["sla"][0]["within"] = "4 hours"
    found = refusal(returns_body)
    assert "$.transitions.approve.from" in found
    assert "$.states.new.sla[0].within" in found


def test_a_workflow_over_an_unpublished_object(db, returns_body):
    assert refusal(returns_body) == {"$.object": {"unknown_object"}}
