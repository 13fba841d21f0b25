"""Runs of flows and their history: the run-time state, kept apart from the stored definitions."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tessera.records.people import person_link


class RunStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Run(models.Model):
    """One subject record walking one published version of a flow (a workflow or a campaign).

    ``version`` is the optimistic lock a person's transition must name, so two people cannot both
    move a ticket out of the same state. ``visits`` counts node entries: with the run id and the
    node it makes the outbox key of every effect, so replaying a step never repeats one.
    """

    # Every index below is paid on each move of a run (a run's row is rewritten at each step):
    # slugs and user links are unindexed where a composite or partial index serves the lookups.
    flow_kind = models.CharField(max_length=20)
    flow_key = models.SlugField(max_length=64, db_index=False)
    flow_version = models.PositiveIntegerField()
    subject = models.ForeignKey("records.Record", on_delete=models.CASCADE, related_name="runs")
    object_key = models.SlugField(max_length=64, db_index=False)
    node = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.ACTIVE)
    version = models.PositiveIntegerField(default=1)
    visits = models.PositiveIntegerField(default=0)
    assignee = person_link()  # (assignee, status) below leads with it
    data = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    started_by = person_link()  # partial index below: only set rows are ever looked up
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A ticket is in one place of a workflow at a time; campaigns may be re-entered.
            models.UniqueConstraint(
                fields=["flow_kind", "flow_key", "subject"],
                condition=Q(status="active"),
                name="one_active_run_per_subject",
            ),
        ]
        indexes = [
            models.Index(fields=["flow_kind", "flow_key", "status"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(
                fields=["started_by"],
                condition=Q(started_by__isnull=False),
                name="run_started_by",
            ),
        ]

    def __str__(self) -> str:
        flow = f"{self.flow_kind}:{self.flow_key}@v{self.flow_version}"
        return f"{flow} #{self.subject_id} at {self.node}"

    @property
    def timer_owner(self) -> str:
        return f"run:{self.pk}"


class StepKind(models.TextChoices):
    START = "start", "Start"
    TRANSITION = "transition", "Transition"
    AUTOMATIC = "automatic", "Automatic"
    TIMER = "timer", "Timer"
    SLA = "sla", "SLA"
    ASSIGN = "assign", "Assignment"
    MIGRATE = "migrate", "Migration"
    END = "end", "End"


class Step(models.Model):
    """One line of a run's history: who moved it, when, from where to where, and why."""

    run = models.ForeignKey(
        Run,
        on_delete=models.CASCADE,
        related_name="steps",
        db_index=False,  # (run, at) below leads with it
    )
    kind = models.CharField(max_length=12, choices=StepKind.choices)
    transition = models.CharField(max_length=64, blank=True)
    from_node = models.CharField(max_length=64, blank=True)
    to_node = models.CharField(max_length=64, blank=True)
    actor = person_link()  # partial index below
    comment = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["run", "at"]),
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="step_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_node}→{self.to_node}"


class AssignmentCursor(models.Model):
    """Where round-robin assignment stopped, per flow and group, so it goes on fairly."""

    flow_key = models.SlugField(max_length=64)
    group = models.CharField(max_length=150)
    last_user_id = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["flow_key", "group"], name="one_cursor_per_group")
        ]

    def __str__(self) -> str:
        return f"{self.flow_key}/{self.group}: {self.last_user_id}"
