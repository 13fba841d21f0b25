"""The outbox: every effect of a flow is a row here before it happens."""

from __future__ import annotations

from django.db import models


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class OutboxEntry(models.Model):
    """One effect, keyed by the caller (run, node, visit), so asking twice performs it once.

    ``pending`` rows wait for a worker (or for their ``next_attempt_at`` after a failure);
    ``sending`` means a worker claimed the row until ``lease_until``; ``sent``, ``failed``
    (after the last attempt, or a permanent error: a person retries it from the admin) and
    ``skipped`` (nothing to do, e.g. no recipient) are final.
    """

    Status = OutboxStatus

    key = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    object_key = models.SlugField(max_length=64, blank=True, default="")
    # An id, not a foreign key: the row (and what it did) outlives a deleted record.
    record_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True, help_text="token of the current attempt")
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="last time a delivery task was sent to the broker"
    )
    last_error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "outbox entry"
        verbose_name_plural = "outbox"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_status_due"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.key} ({self.status})"
