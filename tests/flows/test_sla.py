"""SLA clocks in business hours, across a holiday and a weekend, with a frozen clock.

The calendar is Shanghai, Monday to Friday 09:00-18:00, with 1 and 2 October 2026 (Thursday
and Friday) as holidays. A ticket opened on Wednesday 30 September at 16:00 has two working
hours that day; its four-hour respond SLA runs out on Monday 5 October at 11:00, and the
reminder one working hour before, at 10:00.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tessera.flows import service
from tessera.flows.models import Run
from tessera.records.models import Event, Record
from tessera.timers import service as timers
from tessera.timers.models import Timer

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPENED = dt.datetime(2026, 9, 30, 16, 0, tzinfo=SHANGHAI)
REMIND = dt.datetime(2026, 10, 5, 10, 0, tzinfo=SHANGHAI)
BREACH = dt.datetime(2026, 10, 5, 11, 0, tzinfo=SHANGHAI)
SECOND = dt.timedelta(seconds=1)


def at(moment: dt.datetime):
    return time_machine.travel(moment, tick=False)


def fire(moment: dt.datetime) -> int:
    with at(moment):
        return timers.fire_due(now=moment)


@pytest.fixture
def opened(new_ticket):
    with at(OPENED):
        ticket = new_ticket()
    return ticket, Run.objects.get(subject=ticket)


def test_deadlines_count_business_hours_only(opened):
    _, run = opened
    clocks = run.data["sla"]
    assert dt.datetime.fromisoformat(clocks["respond"]["due"]) == BREACH
    assert clocks["respond"]["status"] == "running"
    due = {t.purpose: t.due_at for t in Timer.objects.filter(owner=f"run:{run.pk}:sla:respond")}
    assert due == {"flow.sla_remind": REMIND, "flow.sla_breach": BREACH}
    resolve = dt.datetime.fromisoformat(clocks["resolve"]["due"])
    assert resolve > BREACH  # two working days, counted past the holiday and the weekend


def test_reminder_then_breach_then_escalation(opened, people):
    ticket, run = opened
    assert fire(REMIND - SECOND) == 0  # nothing is due on the holiday or the weekend
    assert fire(REMIND) == 1
    ticket.refresh_from_db()
    assert ticket.data["priority"] == "high"
    assert Event.objects.filter(subject=ticket, type="sla_reminder").count() == 1

    assert fire(BREACH) == 1
    ticket.refresh_from_db()
    run.refresh_from_db()
    assert ticket.data["priority"] == "urgent"
    assert ticket.data["sla_breached"] is True
    assert run.assignee.username == "zhao"  # escalated to the supervisors' group
    assert ticket.data["assignee"] == "zhao"
    assert run.data["sla"]["respond"]["status"] == "breached"
    breach = Event.objects.get(subject=ticket, type="sla_breached")
    assert breach.payload["sla"] == "respond"
    assert [s.data.get("event") for s in run.steps.filter(kind="sla")] == ["reminder", "breach"]
    assert fire(BREACH + dt.timedelta(days=1)) == 0  # fired once, never again


def test_moving_on_in_time_cancels_the_clock(opened, people):
    ticket, run = opened
    with at(REMIND - dt.timedelta(minutes=30)):
        run = service.transition(
            run.pk, "approve", actor=people["li"], version=run.version, fields={"reason": "damaged"}
        )
    assert run.data["sla"]["respond"]["status"] == "met"
    assert run.data["sla"]["resolve"]["status"] == "running"  # runs until resolved
    assert not Timer.objects.filter(owner=f"run:{run.pk}:sla:respond").exists()
    assert fire(BREACH) == 0
    ticket.refresh_from_db()
    assert "sla_breached" not in ticket.data
    assert not Event.objects.filter(subject=ticket, type__startswith="sla_").exists()


def test_the_resolve_clock_stops_at_a_final_state(opened, people):
    _, run = opened
    with at(BREACH - dt.timedelta(minutes=5)):
        run = service.transition(
            run.pk, "reject", actor=people["li"], version=run.version, comment="not ours"
        )
    assert run.data["sla"]["resolve"]["status"] == "met"
    assert not Timer.objects.filter(owner__startswith=f"run:{run.pk}").exists()


def test_breach_is_visible_to_segments(opened, people):
    from tessera.definitions import service as definitions
    from tessera.segments import service as segments

    ticket, _ = opened
    fire(BREACH)
    definitions.save_and_publish(
        "segment",
        "breached",
        {"object": "ticket", "condition": {"field": "sla_breached", "op": "eq", "value": True}},
    )
    assert list(segments.members("breached").values_list("pk", flat=True)) == [ticket.pk]
    assert Record.objects.get(pk=ticket.pk).data["sla_breached"] is True
