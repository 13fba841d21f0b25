"""Transitions the system takes after a while: close a ticket the customer never sent back."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tessera.definitions import service as definitions
from tessera.flows import service
from tessera.flows.models import Run, RunStatus
from tessera.records import service as records
from tessera.timers import service as timers
from tessera.timers.models import Timer

from .conftest import CALENDAR, TICKET

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def auto_close(db, people, publish_object, returns_body):
    publish_object("ticket", TICKET)
    definitions.save_and_publish("calendar", "cn-office", dict(CALENDAR))
    returns_body["transitions"]["expire"] = {
        "from": ["approved"],
        "to": "rejected",
        "after": "P7D",
        "guard": {"field": "tracking_number", "op": "is_empty"},
    }
    definitions.save_and_publish("workflow", "returns", returns_body)


def approved(people) -> Run:
    with time_machine.travel(START, tick=False):
        ticket = records.create("ticket", {"title": "t", "kind": "return"})
        run = Run.objects.get(subject=ticket)
        return service.transition(
            run.pk, "approve", actor=people["li"], version=run.version, fields={"reason": "r"}
        )


def fire(days: float) -> int:
    moment = START + dt.timedelta(days=days)
    with time_machine.travel(moment, tick=False):
        return timers.fire_due(now=moment)


def test_the_system_takes_it_when_nobody_moved(auto_close, people):
    run = approved(people)
    fire(6.9)
    run.refresh_from_db()
    assert run.node == "approved"
    fire(7)
    run.refresh_from_db()
    assert (run.node, run.status) == ("rejected", RunStatus.COMPLETED)
    step = run.steps.get(transition="expire")
    assert (step.kind, step.actor) == ("automatic", None)


def test_a_person_moving_first_cancels_it(auto_close, people):
    run = approved(people)
    service.transition(
        run.pk,
        "receive",
        actor=people["li"],
        version=run.version,
        fields={"tracking_number": "SF0000001"},
    )
    assert not Timer.objects.filter(owner=f"run:{run.pk}", purpose="flow.auto").exists()
    fire(8)
    run.refresh_from_db()
    assert run.node == "received"


def test_a_guard_that_fails_skips_it_and_says_so(auto_close, people):
    run = approved(people)
    ticket = run.subject
    ticket.refresh_from_db()
    records.update("ticket", ticket.pk, {"tracking_number": "SF0000002"}, version=ticket.version)
    fire(7)
    run.refresh_from_db()
    assert run.node == "approved"
    assert "skipped" in run.steps.get(transition="expire").comment


def test_an_automatic_transition_cannot_ask_for_fields(db, people, publish_object, returns_body):
    from tessera.definitions.errors import ValidationFailed

    publish_object("ticket", TICKET)
    definitions.save_and_publish("calendar", "cn-office", dict(CALENDAR))
    returns_body["transitions"]["receive"]["after"] = "P1D"
    with pytest.raises(ValidationFailed) as refused:
        definitions.save_and_publish("workflow", "returns", returns_body)
    assert [e.path for e in refused.value.errors] == ["$.transitions.receive.required_fields"]
