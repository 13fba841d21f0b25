"""What data exchange keeps: import jobs and their rejected rows, merges, ingestion sources."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed (nothing more will be written)"
    CANCELLED = "cancelled", "Cancelled"


class ImportJob(models.Model):
    """One file being imported into one object, resumable from ``cursor``.

    ``cursor`` is the number of data rows fully handled; it is committed in the same
    transaction as the rows of each chunk, so a worker killed mid-chunk leaves the cursor
    at the last committed chunk and the next worker starts there. ``claim`` names the worker
    run that owns the job; a chunk whose claim no longer matches is not written.
    """

    object_key = models.SlugField(max_length=64)
    path = models.CharField(max_length=1000, help_text="absolute path of the file")
    file_name = models.CharField(max_length=255, blank=True)
    format = models.CharField(max_length=10, default="csv")
    encoding = models.CharField(max_length=40, blank=True)
    header = models.JSONField(default=list, blank=True, help_text="the file's columns")
    mapping = models.JSONField(default=dict, help_text="{column: field}; unmapped columns skipped")
    key_fields = models.JSONField(default=list, help_text="fields that identify a record (upsert)")
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    cursor = models.PositiveIntegerField(default=0, help_text="file row of the last chunk written")
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="why the file was refused")
    claim = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="import_status_beat")]

    def __str__(self) -> str:
        return f"import #{self.pk} of {self.file_name or self.path} into {self.object_key}"

    @property
    def progress(self) -> float:
        return self.rows_done / self.total_rows if self.total_rows else 0.0


class RejectedRow(models.Model):
    """A row an import did not write, with its cells and every reason, to download and fix."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejected_rows")
    row = models.PositiveIntegerField(help_text="row number in the file (the header is row 1)")
    cells = models.JSONField(default=list)
    errors = models.JSONField(default=list, help_text="[{column, field, code, message}]")

    class Meta:
        ordering = ["job", "row"]
        constraints = [models.UniqueConstraint(fields=["job", "row"], name="rejected_row_once")]

    def __str__(self) -> str:
        return f"row {self.row} of import #{self.job_id}"


class MergeStatus(models.TextChoices):
    MERGED = "merged", "Merged"
    REVERSED = "reversed", "Reversed (unmerged)"


class Merge(models.Model):
    """Two records of one object made one, with everything needed to undo it.

    ``survivor_before`` and ``duplicate_before`` are the full rows as they were; ``moved``
    lists what was re-pointed from the duplicate to the survivor (relation fields of other
    records, rows of other tables), ``kept_aside`` the serialized rows that could not move
    (the survivor already had one like it) and were removed with the duplicate.
    """

    object_key = models.SlugField(max_length=64)
    survivor_id = models.BigIntegerField(db_index=True)
    duplicate_id = models.BigIntegerField(db_index=True)
    survivor_before = models.JSONField()
    duplicate_before = models.JSONField()
    survivor_version = models.PositiveIntegerField(help_text="the survivor's version after merge")
    choices = models.JSONField(default=dict, blank=True, help_text="{field: where it came from}")
    moved = models.JSONField(default=dict, blank=True)
    kept_aside = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=10, choices=MergeStatus.choices, default=MergeStatus.MERGED
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField(auto_now_add=True)
    reversed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.object_key} #{self.duplicate_id} → #{self.survivor_id} ({self.status})"


class DuplicateStatus(models.TextChoices):
    OPEN = "open", "To review"
    MERGED = "merged", "Merged"
    DISMISSED = "dismissed", "Not duplicates"


class DuplicateCandidate(models.Model):
    """Two records that look like one person, waiting for someone to merge or dismiss them."""

    object_key = models.SlugField(max_length=64)
    first_id = models.BigIntegerField()
    second_id = models.BigIntegerField()
    reason = models.CharField(max_length=40, help_text="email, phone or name+place")
    score = models.FloatField(default=1.0)
    status = models.CharField(
        max_length=10, choices=DuplicateStatus.choices, default=DuplicateStatus.OPEN
    )
    found_at = models.DateTimeField(auto_now_add=True)
    merge = models.ForeignKey(Merge, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["object_key", "first_id", "second_id"], name="duplicate_pair_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.object_key} #{self.first_id} ~ #{self.second_id} ({self.reason})"


class Source(models.Model):
    """An order system, ERP or shop that pushes records: its key and what it may write.

    The HMAC key is kept encrypted (Fernet, with a key derived from SECRET_KEY): it must be
    usable to check signatures, so a one-way hash will not do. Changing SECRET_KEY makes the
    stored keys unreadable; set them again in the admin then.
    """

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    secret_encrypted = models.TextField()
    objects_allowed = models.JSONField(default=list, help_text='object keys, ["*"] for all')
    status_field = models.CharField(
        max_length=64, default="status", help_text="a change of it becomes a timeline event"
    )
    timezone = models.CharField(
        max_length=64, blank=True, help_text="of times sent without an offset (else TIME_ZONE)"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name or self.key

    def allows(self, object_key: str) -> bool:
        return "*" in self.objects_allowed or object_key in self.objects_allowed


class ExternalRef(models.Model):
    """Which record an id of a source's system is, and the digest of what it last sent."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="refs")
    object_key = models.SlugField(max_length=64)
    external_id = models.CharField(max_length=200)
    record_id = models.BigIntegerField(db_index=True)
    digest = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "object_key", "external_id"], name="external_ref_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.object_key}:{self.external_id} = #{self.record_id}"


class Delivery(models.Model):
    """A signature already accepted, kept for the replay window so it is accepted once."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    signature = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["source", "signature"], name="delivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.signature[:12]}…"
