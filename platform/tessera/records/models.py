"""One table for the records of every object, plus their events and their history."""

from __future__ import annotations

from django.db import models

from .people import person_link


class Record(models.Model):
    """A record of any object: its fields live in ``data``, validated by the object's schema.

    ``version`` grows by one on every write; a write that names an older version is
    refused (optimistic locking), so two people never overwrite each other silently.
    """

    # No index of its own (a SlugField's default adds two on PostgreSQL): ``record_object_id``
    # leads with it, and every write paid for the two that no query needed.
    object_key = models.SlugField(max_length=64, db_index=False)
    data = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    schema_version = models.PositiveIntegerField(help_text="object definition version last checked")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Indexed only where set (Meta.indexes): what reads them asks for one person's records
    # (row rules, SET_NULL when a user is deleted), never for the unset ones, which system
    # writes and imports without an actor make by the million.
    created_by = person_link()
    updated_by = person_link()

    class Meta:
        indexes = [
            models.Index(fields=["object_key", "id"], name="record_object_id"),
            models.Index(
                fields=["created_by"],
                name="record_created_by",
                condition=models.Q(created_by__isnull=False),
            ),
            models.Index(
                fields=["updated_by"],
                name="record_updated_by",
                condition=models.Q(updated_by__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.object_key}#{self.pk} v{self.version}"


class Event(models.Model):
    """Something that happened to a record (order placed, cart abandoned…): the timeline."""

    subject = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=100)
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["subject", "type", "occurred_at"], name="event_subject_type_time"),
            models.Index(fields=["type", "occurred_at"], name="event_type_time"),
        ]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} on {self.subject_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class RecordChange(models.Model):
    """One write to a record: who, when, and the field-level diff.

    It keeps the record's id rather than a foreign key so the history of a deleted record
    stays readable.
    """

    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"
        MIGRATE = "migrate"

    record_id = models.BigIntegerField(db_index=True)
    # No index: history is read by record (``record_id``), never by object, and each index
    # is paid on every write (a SlugField's default is two on PostgreSQL).
    object_key = models.SlugField(max_length=64, db_index=False)
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    changes = models.JSONField(help_text="{field: [old, new]}")
    actor = person_link()  # indexed where set: see Meta.indexes and Record.created_by
    at = models.DateTimeField(auto_now_add=True)
    comment = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["record_id", "version", "id"]
        indexes = [
            models.Index(
                fields=["actor"],
                name="recordchange_actor",
                condition=models.Q(actor__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_key}#{self.record_id} v{self.version}"


class BulkCreation(models.Model):
    """Records created together by a bulk write (an import's chunk), kept without create rows.

    A create's history row repeats the record it made: for an import, a second row as large
    as the record, with its own index entry, for every record (a quarter of a million-row
    import's time, measured). The record is its own creation entry instead: its first
    version is its data walked back through its later changes (every later write has a row,
    and versions count them), its time and person are the record's (``history.creation``).
    This row keeps which ids were made together and why (``comment``: "import #12"); a
    record's create row is written out before it is deleted (``history.keep_creation``).
    """

    object_key = models.SlugField(max_length=64, db_index=False)
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    comment = models.CharField(max_length=500, blank=True)

    class Meta:
        # A record's run is the one with the largest first_id at or below its id.
        indexes = [models.Index(fields=["first_id"], name="bulkcreation_first_id")]

    def __str__(self) -> str:
        return f"{self.object_key} #{self.first_id}-{self.last_id}: {self.comment}"


class Rollup(models.Model):
    """A precomputed aggregate of one record's related records (a customer's 90-day orders).

    Declared on the relation field (``x-relation.rollups``), recomputed for the affected
    parent in the same transaction as every write to a related record, and, for windowed
    aggregates, again when the oldest record inside the window leaves it (``expires_at``,
    swept by the tick). Conditions read it instead of aggregating live.
    """

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="rollups")
    name = models.CharField(max_length=200, help_text="canonical metric, e.g. orders.count@P90D")
    value = models.DecimalField(max_digits=24, decimal_places=6, null=True)
    # NULL, not "", means "no value": a rollup of no records has none.
    text_value = models.CharField(max_length=40, null=True, help_text="first/last dates")  # noqa: DJ001
    expires_at = models.DateTimeField(null=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record", "name"], name="rollup_record_name")
        ]
        indexes = [
            models.Index(fields=["name", "value"], name="rollup_name_value"),
            models.Index(
                fields=["expires_at"],
                name="rollup_expires",
                condition=models.Q(expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        value = self.value if self.value is not None else self.text_value
        return f"{self.name} of {self.record_id}: {value}"
