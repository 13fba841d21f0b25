"""Pausing, resuming and archiving a campaign: nobody loses their place, nothing is sent while
paused, and a new version leaves customers already in on the version they started."""

from __future__ import annotations

import pytest

from tessera.definitions import service as definitions
from tessera.flows.campaigns import service as campaigns
from tessera.flows.campaigns.models import Entry
from tessera.flows.models import Run

from .conftest import event, one_send

pytestmark = pytest.mark.django_db


def drip() -> dict:
    """visit → wait a day → mail → wait a day → tag → end."""
    campaign = one_send("visit")
    campaign["start"] = "first_day"
    campaign["nodes"]["first_day"] = {"type": "wait", "for": "P1D", "next": "mail"}
    campaign["nodes"]["mail"]["next"] = "second_day"
    campaign["nodes"]["second_day"] = {"type": "wait", "for": "P1D", "next": "tag"}
    campaign["nodes"]["tag"] = {
        "type": "action",
        "actions": [{"type": "set_field", "params": {"field": "level", "value": "silver"}}],
        "next": "done",
    }
    return campaign


def test_pause_holds_sends_and_resume_goes_on_from_the_same_place(
    publish, customer, clock, committed, smtp_settings
):
    publish("drip", drip())
    people = [customer(f"P{i}") for i in range(4)]
    with committed():
        for person in people:
            event(person, "visit")
    campaigns.pause("drip")
    latecomer = customer("Late")
    with committed():
        event(latecomer, "visit")
    assert not Entry.objects.filter(subject=latecomer).exists()  # paused: nobody new

    clock.advance(days=1, seconds=1)
    clock.tick()
    assert smtp_settings.received == []  # the runs reached the send node and stopped there
    assert set(Run.objects.filter(flow_key="drip").values_list("node", flat=True)) == {"mail"}
    assert Entry.objects.filter(held=True).count() == 4
    assert campaigns.metrics("drip")["waiting"] == 4

    clock.advance(days=3)
    clock.tick()
    assert smtp_settings.received == []  # still nothing, however long the pause
    campaigns.resume("drip", batches=False)
    assert len(smtp_settings.received) == 0  # in the outbox now; the tick delivers
    clock.tick()
    assert sorted(m.recipients[0] for m in smtp_settings.received) == sorted(
        p.data["email"] for p in people
    )
    assert not Entry.objects.filter(held=True).exists()
    clock.advance(days=1, seconds=1)
    clock.tick()
    for person in people:
        person.refresh_from_db()
        assert person.data["level"] == "silver"
    numbers = campaigns.metrics("drip")
    assert (numbers["entered"], numbers["exited"], numbers["sent"]) == (4, 4, 4)


def test_a_pause_between_two_steps_keeps_the_wait(publish, customer, clock, committed):
    publish("drip", drip())
    ana = customer("Ana")
    with committed():
        event(ana, "visit")
    campaigns.pause("drip")
    campaigns.resume("drip", batches=False)  # resumed before the wait ended: nothing to release
    clock.advance(hours=23)
    clock.tick()
    assert Run.objects.get(subject=ana).node == "first_day"
    clock.advance(hours=1, seconds=1)
    clock.tick()
    assert Run.objects.get(subject=ana).node == "second_day"


def test_archive_lets_nobody_new_in_and_customers_inside_finish(
    publish, customer, clock, committed, smtp_settings
):
    publish("drip", drip())
    ana, bo = customer("Ana"), customer("Bo")
    with committed():
        event(ana, "visit")
    campaigns.archive("drip")
    with committed():
        event(bo, "visit")
    assert not Entry.objects.filter(subject=bo).exists()
    clock.advance(days=2, seconds=2)
    clock.tick()
    clock.advance(days=1)
    clock.tick()
    run = Run.objects.get(subject=ana)
    assert (run.status, run.flow_version) == ("completed", 1)
    assert [m.recipients for m in smtp_settings.received] == [[ana.data["email"]]]


def test_a_new_version_applies_to_new_entries_only(publish, customer, clock, committed):
    publish("drip", drip())
    ana, bo = customer("Ana"), customer("Bo")
    with committed():
        event(ana, "visit")
    changed = drip()
    changed["nodes"]["tag"]["actions"][0]["params"]["value"] = "gold"
    definitions.save_and_publish("campaign", "drip", changed)
    with committed():
        event(bo, "visit")
    clock.advance(days=2, seconds=2)
    clock.tick()
    clock.advance(days=1)
    clock.tick()
    ana.refresh_from_db()
    bo.refresh_from_db()
    assert (ana.data["level"], bo.data["level"]) == ("silver", "gold")
    assert dict(Run.objects.values_list("subject_id", "flow_version")) == {ana.pk: 1, bo.pk: 2}
