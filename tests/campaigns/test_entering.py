"""Entering a campaign: re-entry rules, one entry per trigger occurrence, the backstop scan."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections

from tessera.flows.campaigns import events
from tessera.flows.campaigns import service as campaigns
from tessera.flows.campaigns.models import CampaignState, Entry
from tessera.flows.models import Run

from .conftest import event, one_send

pytestmark = pytest.mark.django_db


def waiting_body(reentry: str, period: str | None = None) -> dict:
    """Enter on ``visit``, wait two days, end: a run stays active for a while."""
    campaign = one_send("visit")
    campaign["reentry"] = reentry
    if period:
        campaign["reentry_period"] = period
    campaign["start"] = "pause"
    campaign["nodes"]["pause"] = {"type": "wait", "for": "P2D", "next": "done"}
    del campaign["nodes"]["mail"]
    return campaign


def visit(person, committed) -> None:
    with committed():
        event(person, "visit")


def test_once(publish, customer, clock, committed):
    publish("c", waiting_body("once"))
    ana = customer("Ana")
    visit(ana, committed)
    clock.advance(days=30)
    clock.tick()
    visit(ana, committed)
    assert Entry.objects.filter(subject=ana).count() == 1
    assert campaigns.enter("c", [(ana.pk, "manual:1")]).skipped == {"once": 1}


def test_once_per_period(publish, customer, clock, committed):
    publish("c", waiting_body("once_per_period", "P7D"))
    ana = customer("Ana")
    visit(ana, committed)
    clock.advance(days=3)
    clock.tick()  # the first run has ended
    assert campaigns.enter("c", [(ana.pk, "manual:1")]).skipped == {"period": 1}
    clock.advance(days=5)
    visit(ana, committed)
    assert Entry.objects.filter(subject=ana).count() == 2


def test_always_but_one_place_at_a_time(publish, customer, clock, committed):
    publish("c", waiting_body("always"))
    ana = customer("Ana")
    visit(ana, committed)
    assert campaigns.enter("c", [(ana.pk, "manual:1")]).skipped == {"in_flow": 1}
    clock.advance(days=2)
    clock.tick()
    assert campaigns.enter("c", [(ana.pk, "manual:1")]).entered == [ana.pk]
    assert Entry.objects.filter(subject=ana).count() == 2


def test_an_occurrence_delivered_twice_enters_once_and_the_backstop_finds_missed_events(
    publish, customer, clock, committed
):
    publish("c", waiting_body("always"))
    ana, bo = customer("Ana"), customer("Bo")
    first = event(ana, "visit")  # not committed: the observer never hears of it (a lost task)
    event(bo, "visit")
    assert not Entry.objects.exists()
    assert campaigns.scan_events("c") == 2
    assert campaigns.scan_events("c") == 2  # inside the lag: read again, entered once
    assert Entry.objects.count() == 2
    events.process("customer", [ana.pk], ["visit"])  # the fast path, late: nothing new
    assert Entry.objects.get(subject=ana).key == f"event:{first.pk}"
    state = CampaignState.objects.get(campaign_key="c")
    assert state.event_cursor == state.first_event  # nothing settled yet
    clock.advance(minutes=2)
    assert campaigns.scan_events("c") == 2
    assert campaigns.scan_events("c") == 0  # settled: the cursor moved past them
    assert Entry.objects.count() == Run.objects.count() == 2
    skipped = campaigns.enter("c", [(ana.pk, f"event:{first.pk}")]).skipped
    assert skipped == {"duplicate": 1}


def test_events_before_the_first_publish_trigger_nothing(publish, customer, clock, committed):
    ana = customer("Ana")
    event(ana, "visit")
    publish("c", waiting_body("always"))
    assert campaigns.scan_events("c") == 0
    events.process("customer", [ana.pk], ["visit"])
    assert not Entry.objects.exists()


def test_unknown_records_and_other_objects_are_skipped(publish, customer):
    publish("c", waiting_body("always"))
    ana = customer("Ana")
    result = campaigns.enter("c", [(ana.pk, "m"), (ana.pk, "m"), (10**9, "m")])
    assert result.entered == [ana.pk] and result.skipped == {"not_found": 1}
    assert campaigns.enter("nope", [(ana.pk, "m")]).skipped == {"not_published": 1}


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_the_same_time_enter_once(publish, customer):
    publish("c", waiting_body("always"))
    ana = customer("Ana")
    barrier, results, errors = threading.Barrier(2), [], []

    def deliver() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(campaigns.enter("c", [(ana.pk, "event:77")]))
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(len(r.entered) for r in results) == [0, 1]
    assert Entry.objects.count() == Run.objects.count() == 1


def test_one_failing_walk_fails_only_its_own_run(publish, customer):
    from tessera.flows.campaigns.nodes import CampaignSplit
    from tessera.flows.models import Step
    from tessera.plugins import node_types

    class Picky(CampaignSplit):
        def enter(self, visit):
            if visit.run.subject.data["name"] == "Bad":
                raise RuntimeError("cannot pick")
            return super().enter(visit)

    campaign = waiting_body("always")
    campaign["start"] = "pick"
    campaign["nodes"]["pick"] = {
        "type": "split",
        "variants": [{"name": "a", "weight": 1, "next": "pause"}],
    }
    publish("c", campaign)
    good, bad = customer("Good"), customer("Bad")
    with node_types.register_temporarily(Picky()):
        result = campaigns.enter("c", [(good.pk, "m"), (bad.pk, "m")])
    assert result.entered == [good.pk]
    failed = Run.objects.get(subject=bad)
    assert failed.status == "failed" and "cannot pick" in failed.error
    assert list(Step.objects.filter(run=failed).values_list("kind", flat=True)) == ["end"]
    assert Entry.objects.get(subject=good).variant == "a"
    assert Entry.objects.get(subject=bad).variant == ""
