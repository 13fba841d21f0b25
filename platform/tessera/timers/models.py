"""Durable timers, and the heartbeat of the background processes.

A timer is a row, not a Celery ETA: a million of them cost a million small rows and one
partial index, survive any restart, and are claimed by the tick when due.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Heartbeat(models.Model):
    """The last time a background process (the tick, a worker) reported in."""

    name = models.CharField(max_length=100, unique=True)
    beats = models.PositiveBigIntegerField(default=0)
    last_at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.last_at:%H:%M:%S}"


class TimerStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    FAILED = "failed", "Failed (a person must retry it)"


class Timer(models.Model):
    """Something that must happen at ``due_at``: the tick hands it to its purpose's handler.

    A fired timer is deleted (what it did is recorded by whoever handled it, e.g. the run's
    history); one whose handler keeps failing ends as ``failed`` for a person to retry.
    """

    purpose = models.CharField(max_length=100)
    due_at = models.DateTimeField()
    # Who the timer belongs to ("run:123"), so moving on can cancel all of its timers at once.
    owner = models.CharField(max_length=200)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=TimerStatus.choices, default=TimerStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The due scan: `status = 'pending' AND due_at <= now ORDER BY due_at, id` is a
            # range scan of this index on PostgreSQL and SQLite alike; failed timers stay out.
            models.Index(
                fields=["due_at", "id"],
                condition=Q(status="pending"),
                name="timer_due",
            ),
            models.Index(fields=["owner", "purpose"], name="timer_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} for {self.owner} at {self.due_at:%Y-%m-%d %H:%M:%S} ({self.status})"
