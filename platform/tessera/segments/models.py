"""Who is in which segment, how fresh that is, and the RFM and lifecycle settings per object."""

from __future__ import annotations

from django.db import models

from tessera.records.models import Record


class Membership(models.Model):
    """A record is in a segment since ``entered_at``; leaving deletes the row.

    Every entry and exit is also an event on the record (``segment_entered`` /
    ``segment_exited``), which is the history; this table is only the present.
    """

    segment_key = models.SlugField(max_length=64)
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment_key", "record"], name="membership_unique")
        ]
        indexes = [models.Index(fields=["record", "segment_key"], name="membership_record")]

    def __str__(self) -> str:
        return f"{self.record_id} in {self.segment_key}"


class SegmentState(models.Model):
    """What the last full computation of a segment was: when, of which version, how many.

    Its row is also the lock that keeps two computations of one segment from racing (they
    would both insert a member and both emit its entry).
    """

    segment_key = models.SlugField(max_length=64, unique=True)
    version = models.PositiveIntegerField(default=0, help_text="definition version computed")
    refreshed_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    members = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.segment_key} v{self.version}: {self.members}"


class ScoringSettings(models.Model):
    """The RFM or lifecycle settings of one object: a JSON document checked when saved."""

    class Kind(models.TextChoices):
        RFM = "rfm", "RFM scoring"
        LIFECYCLE = "lifecycle", "Lifecycle stages"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    object_key = models.SlugField(max_length=64)
    body = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_key"], name="scoring_settings_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.object_key}"
