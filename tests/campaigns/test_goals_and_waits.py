"""Goals that take customers out mid-flow, and waits in the customer's own time zone."""

from __future__ import annotations

import datetime as dt

import pytest

from tessera.flows.campaigns import service as campaigns
from tessera.flows.campaigns.models import Entry
from tessera.flows.models import Run
from tessera.records import service as records
from tessera.timers.models import Timer

from .conftest import START, event, one_send

pytestmark = pytest.mark.django_db


def three_mails(goal: dict) -> dict:
    """visit → mail → wait a day → mail → wait a day → mail → end, with ``goal``."""
    campaign = one_send("visit", goal=goal)
    nodes = campaign["nodes"]
    template = nodes.pop("mail")
    campaign["start"] = "m1"
    for i in (1, 2, 3):
        nodes[f"m{i}"] = {**template, "next": f"w{i}" if i < 3 else "done"}
        if i < 3:
            nodes[f"w{i}"] = {"type": "wait", "for": "P1D", "next": f"m{i + 1}"}
    return campaign


def test_a_condition_goal_takes_customers_out_mid_flow(
    publish, customer, clock, committed, smtp_settings
):
    publish("upsell", three_mails({"condition": {"field": "level", "op": "eq", "value": "gold"}}))
    ana, bo, cy = customer("Ana"), customer("Bo"), customer("Cy")
    with committed():
        for person in (ana, bo, cy):
            event(person, "visit")
    clock.tick()
    assert len(smtp_settings.received) == 3

    clock.advance(hours=5)
    with committed():  # the write itself: the observer checks the goal at once
        records.update("customer", ana.pk, {"level": "gold"}, version=ana.version)
    run = Run.objects.get(subject=ana)
    assert run.status == "completed" and not Timer.objects.filter(owner=run.timer_owner).exists()
    assert Entry.objects.get(subject=ana).converted_at == clock.now

    clock.advance(hours=5)
    bo.refresh_from_db()
    # written without the observer hearing (a lost task): the send node checks before sending
    records.update("customer", bo.pk, {"level": "gold"}, version=bo.version)
    clock.advance(days=1)
    clock.tick()
    assert sorted(m.recipients[0] for m in smtp_settings.received[3:]) == [cy.data["email"]]
    assert Entry.objects.get(subject=bo).converted_at == clock.now
    numbers = campaigns.metrics("upsell")
    assert (numbers["converted"], numbers["waiting"], numbers["sent"]) == (2, 1, 4)


def test_the_periodic_sweep_finds_goals_met_without_a_write(publish, customer, clock, committed):
    goal = {"condition": {"metric": "orders.count", "op": "gte", "value": 1}}
    publish("first-order", three_mails(goal))
    ana = customer("Ana")
    with committed():
        event(ana, "visit")
    records.create("order", {"customer": ana.pk, "total": 10, "placed_at": clock.now.isoformat()})
    assert Run.objects.get(subject=ana).status == "active"  # an order is not a customer write
    assert campaigns.sweep_goals("first-order") == 1
    assert Run.objects.get(subject=ana).status == "completed"


def test_conversions_count_inside_the_window_after_the_flow_ended(
    publish, customer, clock, committed
):
    publish("once", one_send("visit", goal={"event": "order_placed", "within": "P3D"}))
    ana, bo, cy = customer("Ana"), customer("Bo"), customer("Cy")
    with committed():
        for person in (ana, bo, cy):
            event(person, "visit")
    clock.tick()
    assert set(Run.objects.values_list("status", flat=True)) == {"completed"}  # the flow ended
    clock.advance(days=2)
    with committed():
        event(ana, "order_placed", total=5)
    clock.advance(days=2)
    with committed():
        event(bo, "order_placed", total=5)  # after the window
    assert list(
        Entry.objects.filter(converted_at__isnull=False).values_list("subject", flat=True)
    ) == [ana.pk]
    assert campaigns.metrics("once")["conversion_rate"] == round(1 / 3, 6)


def waiting(until: dict) -> dict:
    campaign = one_send("visit")
    campaign["start"] = "hold"
    campaign["nodes"]["hold"] = {"type": "wait", **until, "next": "mail"}
    return campaign


def entered_at_mail(customer_run) -> dt.datetime:
    return customer_run.steps.get(to_node="mail").at


def test_wait_until_a_weekday_and_time_in_the_customers_zone(publish, customer, clock, committed):
    publish("tue", waiting({"until": {"weekday": "tue", "time": "10:00"}}))
    people = {
        zone: customer(zone, time_zone=zone)
        for zone in ("Asia/Shanghai", "Europe/London", "America/New_York")
    }
    with committed():  # Monday 01:00 UTC
        for person in people.values():
            event(person, "visit")
    due = {t.payload["run"]: t.due_at for t in Timer.objects.filter(purpose="flow.wake")}
    expected = {
        "Asia/Shanghai": dt.datetime(2026, 11, 3, 2, 0, tzinfo=dt.UTC),
        "Europe/London": dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.UTC),
        "America/New_York": dt.datetime(2026, 11, 3, 15, 0, tzinfo=dt.UTC),
    }
    for zone, person in people.items():
        assert due[Run.objects.get(subject=person).pk] == expected[zone]
    for moment in sorted(expected.values()):
        clock.to(moment - dt.timedelta(seconds=1))
        clock.tick()
        clock.to(moment)
        clock.tick()
    for zone, person in people.items():
        assert entered_at_mail(Run.objects.get(subject=person)) == expected[zone]


def test_wait_until_a_date_field_shifted_by_days_at_a_local_time(
    publish, customer, clock, committed, smtp_settings
):
    publish("eve", waiting({"until_field": "birthday", "offset_days": -1, "at": "18:00"}))
    ana = customer("Ana", time_zone="Europe/London", birthday="2026-11-10")
    nobody = customer("No date")
    past = customer("Past", birthday="2020-01-01")
    with committed():
        for person in (ana, nobody, past):
            event(person, "visit")
    (timer,) = Timer.objects.filter(purpose="flow.wake")
    assert timer.due_at == dt.datetime(2026, 11, 9, 18, 0, tzinfo=dt.UTC)
    assert Run.objects.get(subject=nobody).status == "completed"  # no date: goes on at once
    assert Run.objects.get(subject=past).status == "completed"  # already past: at once
    clock.to(timer.due_at)
    clock.tick()
    assert len(smtp_settings.received) == 3
    assert clock.now > START
