"""What campaigns keep besides runs: who entered, what was sent, who opted out, the limits.

A campaign run is an ordinary flow ``Run``; these tables hold what only campaigns need:

- ``Entry``: one customer entering one campaign for one trigger occurrence. Its unique key
  (campaign, customer, occurrence) makes entering idempotent; it carries the A/B variant
  and the conversion, and outlives the run (a conversion window may outlast the flow).
- ``Message``: one message a send node decided to send (or suppressed), with its outbox key,
  delivery and engagement (opened, clicked). Frequency caps count these rows.
- ``Unsubscribe``: a customer who opted out of a channel (or of all), honoured by every send.
- ``ChannelLimit`` and ``SendWindow``: the limits across all campaigns (caps, quiet hours,
  a global send rate) and the rate's counters.
- ``CampaignState`` and ``Broadcast``: a campaign's pause switch and trigger cursors, and each
  broadcast occurrence handed out once.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class CampaignState(models.Model):
    """The run-time switches and cursors of one campaign (by key, across its versions)."""

    campaign_key = models.SlugField(max_length=64, unique=True)
    paused = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    # Events up to this id were looked at by the backstop scan (triggers and goals).
    event_cursor = models.BigIntegerField(default=0)
    # Only events after the campaign's first publish trigger it.
    first_event = models.BigIntegerField(default=0)
    dates_scanned_at = models.DateTimeField(null=True, blank=True)
    goals_swept_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "flows_campaign_state"

    def __str__(self) -> str:
        return f"{self.campaign_key}{' (paused)' if self.paused else ''}"


class Entry(models.Model):
    """A customer entering a campaign once for one trigger occurrence (``key``)."""

    campaign_key = models.SlugField(max_length=64)
    campaign_version = models.PositiveIntegerField()
    subject = models.ForeignKey("records.Record", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=120, help_text="the trigger occurrence, e.g. event:42")
    run = models.OneToOneField(
        "flows.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    split = models.CharField(max_length=64, blank=True, help_text="the split node that chose")
    variant = models.CharField(max_length=64, blank=True)
    entered_at = models.DateTimeField()
    goal_until = models.DateTimeField(null=True, blank=True, help_text="end of the goal window")
    converted_at = models.DateTimeField(null=True, blank=True)
    held = models.BooleanField(default=False, help_text="stopped by a pause before a step")

    class Meta:
        db_table = "flows_campaign_entry"
        verbose_name_plural = "entries"
        constraints = [
            models.UniqueConstraint(
                fields=["campaign_key", "subject", "key"], name="campaign_entry_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["campaign_key", "subject", "entered_at"], name="campaign_entry_last"
            ),
            models.Index(
                fields=["campaign_key"], condition=Q(held=True), name="campaign_entry_held"
            ),
            models.Index(
                fields=["campaign_key", "goal_until"],
                condition=Q(converted_at__isnull=True),
                name="campaign_entry_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_key}: #{self.subject_id} ({self.key})"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued (in the outbox)"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed (no consent, unsubscribed, no address)"


class Message(models.Model):
    """One message of a campaign to a customer, and what the customer did with it."""

    campaign_key = models.SlugField(max_length=64)
    campaign_version = models.PositiveIntegerField()
    node = models.CharField(max_length=64)
    variant = models.CharField(max_length=64, blank=True)
    run = models.ForeignKey(
        "flows.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An id, not a foreign key: what was sent outlives a deleted customer (like the outbox).
    subject_id = models.BigIntegerField()
    channel = models.CharField(max_length=40)
    address = models.CharField(max_length=320, blank=True)
    key = models.CharField(max_length=255, unique=True, help_text="the outbox key")
    marketing = models.BooleanField(default=True)
    status = models.CharField(
        max_length=12, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    reason = models.CharField(max_length=200, blank=True)
    links = models.JSONField(default=list, blank=True, help_text="tracked link targets")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    clicks = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "flows_campaign_message"
        indexes = [
            # frequency caps: this customer's recent messages on one channel
            models.Index(fields=["subject_id", "channel", "created_at"], name="campaign_msg_cap"),
            models.Index(fields=["campaign_key", "node"], name="campaign_msg_node"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to #{self.subject_id} ({self.campaign_key}/{self.node})"


class Unsubscribe(models.Model):
    """A customer opted out of a channel (``*``: of every channel); every send checks it."""

    ALL = "*"

    subject = models.ForeignKey("records.Record", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=40)
    at = models.DateTimeField()
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        db_table = "flows_campaign_unsubscribe"
        constraints = [
            models.UniqueConstraint(fields=["subject", "channel"], name="campaign_unsubscribe_once")
        ]

    def __str__(self) -> str:
        return f"#{self.subject_id} from {self.channel}"


class ChannelLimit(models.Model):
    """Limits of one channel across all campaigns, set by an operator (admin or service).

    ``cap_count`` marketing messages per ``cap_period`` per customer; no sends between
    ``quiet_start`` and ``quiet_end`` in the customer's time zone; at most
    ``rate_per_minute`` sends of the channel per minute over everyone.
    """

    channel = models.CharField(max_length=40, unique=True)
    cap_count = models.PositiveIntegerField(null=True, blank=True)
    cap_period = models.CharField(max_length=40, blank=True, help_text="ISO 8601, e.g. P7D")
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    rate_per_minute = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        db_table = "flows_campaign_channel_limit"

    def __str__(self) -> str:
        return f"limits of {self.channel}"

    def clean(self) -> None:
        """What the admin form checks: a cap is a count and an ISO period, quiet hours a pair."""
        from django.core.exceptions import ValidationError

        from tessera.definitions.durations import is_duration

        if bool(self.cap_count) != bool(self.cap_period):
            raise ValidationError({"cap_period": "a cap is a count and a period (P7D)"})
        if self.cap_period and not is_duration(self.cap_period):
            raise ValidationError({"cap_period": "an ISO 8601 duration such as P7D"})
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValidationError({"quiet_end": "quiet hours have a start and an end"})


class SendWindow(models.Model):
    """How many sends of a channel one minute has taken (the global rate's counter)."""

    channel = models.CharField(max_length=40)
    starts_at = models.DateTimeField()
    sent = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "flows_campaign_send_window"
        constraints = [
            models.UniqueConstraint(fields=["channel", "starts_at"], name="campaign_window_once")
        ]

    def __str__(self) -> str:
        return f"{self.channel} at {self.starts_at:%H:%M}: {self.sent}"


class Broadcast(models.Model):
    """One occurrence of a broadcast trigger: handed out to the segment once, in batches."""

    campaign_key = models.SlugField(max_length=64)
    occurrence = models.DateTimeField()
    created_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    audience = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "flows_campaign_broadcast"
        constraints = [
            models.UniqueConstraint(
                fields=["campaign_key", "occurrence"], name="campaign_broadcast_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_key} at {self.occurrence:%Y-%m-%d %H:%M}"


class BroadcastBatch(models.Model):
    """Up to a few hundred customers of a broadcast, entered by one task.

    Written with the broadcast, marked done in the transaction that enters them: the row, not
    the broker's message, says whether the work is done, so a task lost with its worker is
    sent again by the tick and a task delivered twice enters nobody twice.
    """

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="batches")
    subject_ids = models.JSONField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "flows_campaign_broadcast_batch"
        indexes = [
            models.Index(
                fields=["dispatched_at"],
                condition=Q(done_at__isnull=True),
                name="campaign_batch_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.broadcast}: {len(self.subject_ids)} customers"
