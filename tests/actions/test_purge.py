"""Finished outbox entries are purged after their retention; failed and live ones stay."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tessera.actions import outbox
from tessera.actions.models import OutboxEntry, OutboxStatus
from tessera.actions.tasks import purge

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def entry(key: str, status: str, done_days_ago: float | None) -> OutboxEntry:
    done = None if done_days_ago is None else NOW - dt.timedelta(days=done_days_ago)
    return OutboxEntry.objects.create(
        key=key, type="webhook", status=status, next_attempt_at=NOW, done_at=done
    )


def test_only_finished_entries_past_retention_go(settings):
    settings.TESSERA_ACTIONS = {"retention_days": 30, "purge_batch": 2}
    gone = [
        entry("old-sent-1", OutboxStatus.SENT, 31),
        entry("old-sent-2", OutboxStatus.SENT, 45),
        entry("old-sent-3", OutboxStatus.SENT, 400),
        entry("old-skipped", OutboxStatus.SKIPPED, 90),
    ]
    kept = [
        entry("new-sent", OutboxStatus.SENT, 29),
        entry("old-failed", OutboxStatus.FAILED, 365),  # waits for a person
        entry("pending", OutboxStatus.PENDING, None),
        entry("sending", OutboxStatus.SENDING, None),
    ]
    assert outbox.purge_finished(NOW) == len(gone)  # in batches of two
    assert set(OutboxEntry.objects.values_list("key", flat=True)) == {e.key for e in kept}


def test_zero_retention_keeps_everything(settings):
    settings.TESSERA_ACTIONS = {"retention_days": 0}
    entry("ancient", OutboxStatus.SENT, 3650)
    assert outbox.purge_finished(NOW) == 0
    assert OutboxEntry.objects.count() == 1


def test_beat_runs_the_purge_hourly(settings):
    from tessera.celery import app

    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule["outbox-purge"]
    assert schedule["task"] == "tessera.actions.purge"
    assert schedule["schedule"] == 3600.0
    settings.TESSERA_ACTIONS = {"retention_days": 1}
    OutboxEntry.objects.create(
        key="two-days-ago",
        type="webhook",
        status=OutboxStatus.SENT,
        next_attempt_at=NOW,
        done_at=timezone.now() - dt.timedelta(days=2),
    )
    assert purge() == 1
