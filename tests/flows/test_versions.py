"""A running ticket stays on the version it started with; migration moves it explicitly."""

from __future__ import annotations

import copy

import pytest

from tessera.definitions import service as definitions
from tessera.flows import service
from tessera.flows.errors import TransitionRefused
from tessera.flows.models import Run

pytestmark = pytest.mark.django_db


def test_running_tickets_stay_on_their_version_after_a_publish(new_ticket, people, returns_body):
    old = Run.objects.get(subject=new_ticket())
    v2 = copy.deepcopy(returns_body)
    # v2 drops the reason requirement and adds an "escalated" state after new.
    v2["transitions"]["approve"]["required_fields"] = []
    v2["states"]["escalated"] = {}
    v2["transitions"]["escalate"] = {"from": ["new"], "to": "escalated"}
    v2["transitions"]["approve"]["from"] = ["new", "escalated"]
    v2["states"]["new"].pop("sla")
    TICKET_STATUS = ["new", "approved", "received", "resolved", "rejected", "escalated"]
    from tessera.definitions.cache import published

    ticket_body = copy.deepcopy(published("object", "ticket").body)
    ticket_body["properties"]["status"]["enum"] = TICKET_STATUS
    definitions.save_and_publish("object", "ticket", ticket_body)
    definitions.save_and_publish("workflow", "returns", v2)

    new = Run.objects.get(subject=new_ticket())
    assert (old.flow_version, new.flow_version) == (1, 2)
    with pytest.raises(TransitionRefused) as refused:  # v1 still asks for a reason
        service.transition(old.pk, "approve", actor=people["li"], version=old.version)
    assert refused.value.errors[0].path == "$.fields.reason"
    with pytest.raises(TransitionRefused):  # and knows no escalate
        service.transition(old.pk, "escalate", actor=people["li"], version=old.version)
    service.transition(new.pk, "escalate", actor=people["li"], version=new.version)

    assert service.migrate_runs("returns", state_map={}) == 1
    old.refresh_from_db()
    assert old.flow_version == 2
    old = service.transition(old.pk, "escalate", actor=people["li"], version=old.version)
    assert old.node == "escalated"
    assert [s.kind for s in service.history(old)][-2:] == ["migrate", "transition"]


def test_migration_refuses_states_the_new_version_lacks(new_ticket, people, returns_body):
    run = Run.objects.get(subject=new_ticket())
    v2 = copy.deepcopy(returns_body)
    v2["states"]["triage"] = v2["states"].pop("new")
    v2["initial"] = "triage"
    for t in v2["transitions"].values():
        t["from"] = ["triage" if s == "new" else s for s in t["from"]]
    from tessera.definitions.cache import published

    ticket_body = copy.deepcopy(published("object", "ticket").body)
    ticket_body["properties"]["status"]["enum"].append("triage")
    definitions.save_and_publish("object", "ticket", ticket_body)
    definitions.save_and_publish("workflow", "returns", v2)
    with pytest.raises(TransitionRefused) as refused:
        service.migrate_runs("returns")
    assert refused.value.errors[0].path == "$.state_map.new"
    assert service.migrate_runs("returns", state_map={"new": "triage"}) == 1
    run.refresh_from_db()
    assert (run.node, run.flow_version) == ("triage", 2)
