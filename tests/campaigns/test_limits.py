"""Limits across campaigns: a frequency cap, quiet hours and a global send rate defer sends.

A deferred send is a durable timer on the run (never a Celery ETA): the run waits at the send
node and sends when the limit lets it, through the tick like any timer.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tessera.definitions.errors import ValidationFailed
from tessera.flows.campaigns import service as campaigns
from tessera.flows.campaigns.models import Message
from tessera.flows.models import Run
from tessera.timers.models import Timer

from .conftest import START, event, one_send

pytestmark = pytest.mark.django_db


def subjects(smtp) -> list[str]:
    return [m.message["Subject"] for m in smtp.received]


def test_a_frequency_cap_across_campaigns_defers_until_a_place_frees(
    publish, customer, clock, committed, smtp_settings
):
    campaigns.set_limits("email", cap=2, per="P7D")
    publish("promo", one_send("promo"))
    publish("news", one_send("news"))
    ana = customer("Ana", time_zone="Asia/Shanghai")

    for hour, kind in ((0, "promo"), (1, "promo"), (2, "promo"), (3, "news")):
        clock.to(START + dt.timedelta(hours=hour))
        with committed():
            event(ana, kind)
        clock.tick()
    assert subjects(smtp_settings) == ["promo for Ana", "promo for Ana"]
    waiting = Run.objects.filter(subject=ana, status="active")
    assert {(r.flow_key, r.node, r.data["deferred"]["reason"]) for r in waiting} == {
        ("promo", "mail", "frequency_cap"),
        ("news", "mail", "frequency_cap"),
    }
    assert Timer.objects.filter(purpose="campaign.retry").count() == 2

    clock.to(START + dt.timedelta(days=7) - dt.timedelta(seconds=1))
    clock.tick()
    assert len(smtp_settings.received) == 2  # the first message still counts
    clock.to(START + dt.timedelta(days=7, seconds=1))
    clock.tick()
    assert subjects(smtp_settings)[2:] == ["promo for Ana"]  # one place freed: one send
    news = Run.objects.get(subject=ana, flow_key="news")
    assert news.status == "active" and news.data["deferred"]["reason"] == "frequency_cap"
    clock.to(START + dt.timedelta(days=7, hours=1, seconds=1))
    clock.tick()
    assert subjects(smtp_settings)[3:] == ["news for Ana"]
    sent = Message.objects.filter(subject_id=ana.pk, status="sent").order_by("created_at")
    times = [m.created_at for m in sent]
    for i in range(2, len(times)):  # never three within seven days
        assert times[i] - times[i - 2] > dt.timedelta(days=7)


def test_skip_instead_of_defer_and_non_marketing_messages_are_not_capped(
    publish, customer, clock, committed, smtp_settings
):
    campaigns.set_limits("email", cap=1, per="P1D")
    body = one_send("promo")
    body["nodes"]["mail"]["on_cap"] = "skip"
    publish("promo", body)
    publish("receipt", one_send("paid", marketing=False))
    bo = customer("Bo")
    with committed():
        event(bo, "promo")
        event(bo, "promo")
        event(bo, "paid")
    clock.tick()
    assert sorted(subjects(smtp_settings)) == ["paid for Bo", "promo for Bo"]
    assert Message.objects.get(subject_id=bo.pk, status="suppressed").reason == "capped"
    assert not Run.objects.filter(subject=bo, status="active").exists()


def test_quiet_hours_in_the_customers_zone_hold_a_send_until_they_end(
    publish, customer, clock, committed, smtp_settings
):
    campaigns.set_limits("email", quiet_hours=("21:00", "08:00"))
    publish("promo", one_send("promo"))
    shanghai = customer("Shanghai", time_zone="Asia/Shanghai")
    london = customer("London", time_zone="Europe/London")
    clock.to(dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC))  # 22:00 in Shanghai, 14:00 in London
    with committed():
        event(shanghai, "promo")
        event(london, "promo")
    clock.tick()
    assert subjects(smtp_settings) == ["promo for London"]
    run = Run.objects.get(subject=shanghai)
    assert run.data["deferred"] == {"reason": "quiet_hours", "until": "2026-11-03T00:00:00.000000Z"}

    clock.to(dt.datetime(2026, 11, 2, 23, 59, tzinfo=dt.UTC))
    clock.tick()
    assert len(smtp_settings.received) == 1
    clock.to(dt.datetime(2026, 11, 3, 0, 0, tzinfo=dt.UTC))  # 08:00 in Shanghai
    clock.tick()
    assert subjects(smtp_settings) == ["promo for London", "promo for Shanghai"]
    assert Message.objects.get(subject_id=shanghai.pk).created_at == clock.now


def test_the_global_send_rate_spreads_sends_over_minutes(
    publish, customer, clock, committed, smtp_settings
):
    campaigns.set_limits("email", rate_per_minute=3)
    publish("promo", one_send("promo"))
    people = [customer(f"P{i}") for i in range(7)]
    with committed():
        for person in people:
            event(person, "promo")
    clock.tick()
    assert len(smtp_settings.received) == 3
    clock.advance(minutes=1)
    clock.tick()
    assert len(smtp_settings.received) == 6
    clock.advance(minutes=1)
    clock.tick()
    assert len(smtp_settings.received) == 7
    minutes = sorted(m.created_at.replace(second=0, microsecond=0) for m in Message.objects.all())
    assert [minutes.count(m) for m in sorted(set(minutes))] == [3, 3, 1]


def test_limits_are_checked_with_paths():
    with pytest.raises(ValidationFailed) as caught:
        campaigns.set_limits("email", cap=2, per="a week", quiet_hours=("25:00", "08:00"))
    assert {e.path for e in caught.value.errors} == {"$.per", "$.quiet_hours"}
    with pytest.raises(ValidationFailed) as caught:
        campaigns.set_limits("email", cap=2)
    assert [e.path for e in caught.value.errors] == ["$.cap"]
