"""One table for every kind of definition, one row per version, and the revision counter."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import connections, models, router
from django.db.models import F, Q


class Kind(models.TextChoices):
    OBJECT = "object", "Object"
    SEGMENT = "segment", "Segment"
    WORKFLOW = "workflow", "Workflow"
    CAMPAIGN = "campaign", "Campaign"
    SCREEN = "screen", "Screen"
    CALENDAR = "calendar", "Calendar"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class Source(models.TextChoices):
    PERSON = "person", "A person"
    PACK = "pack", "A template pack"


class ImmutableVersion(Exception):
    """A published or archived version was about to be changed."""


class Definition(models.Model):
    """One version of a definition.

    At most one draft and one published version exist per (kind, key); the versions a
    publish replaced are kept as ``archived`` so history stays readable. A published
    body never changes: a change is a new draft, published as the next version.
    """

    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.SlugField(max_length=64)
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    body = models.JSONField()
    comment = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.PERSON)
    source_pack = models.CharField(max_length=100, blank=True)
    source_pack_version = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "key", "version"], name="definition_version"),
            models.UniqueConstraint(
                fields=["kind", "key"],
                condition=Q(status="draft"),
                name="definition_one_draft",
            ),
            models.UniqueConstraint(
                fields=["kind", "key"],
                condition=Q(status="published"),
                name="definition_one_published",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="definition_version_positive"),
        ]
        indexes = [models.Index(fields=["kind", "status", "key"])]
        ordering = ["kind", "key", "-version"]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key} v{self.version} ({self.status})"

    def save(self, *args, **kwargs):
        if self.pk and self.status != Status.DRAFT:
            stored = Definition.objects.filter(pk=self.pk).values_list("body", flat=True).first()
            if stored is not None and stored != self.body:
                raise ImmutableVersion(f"{self} is {self.status}; its body cannot change")
        super().save(*args, **kwargs)


class DefinitionsRevision(models.Model):
    """A single-row counter bumped by every publish; every compiled cache is keyed on it.

    It lives in the database, not in memory, so a publish in one process is seen by all.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    revision = models.PositiveBigIntegerField(default=0)
    # A fresh random token per bump: a rolled-back publish returns the counter to a number
    # the next publish will reuse, but never to a token, so caches key on the token.
    token = models.CharField(max_length=32, default="initial")
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"definitions revision {self.revision}"

    @classmethod
    def current(cls) -> int:
        value = cls.objects.filter(pk=1).values_list("revision", flat=True).first()
        return value or 0

    @classmethod
    def cache_key(cls) -> tuple[int, str]:
        """What every compiled cache is keyed on: (revision, token), one indexed read.

        Every request and transition starts with it, so it is written by hand: the ORM
        spent longer compiling the query than the database answering it.
        """
        connection = connections[router.db_for_read(cls)]
        table = connection.ops.quote_name(cls._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT revision, token FROM {table} WHERE id = 1")
            row = cursor.fetchone()
        return (row[0], row[1]) if row else (0, "initial")

    @classmethod
    def bump(cls) -> int:
        obj, _ = cls.objects.get_or_create(pk=1)
        cls.objects.filter(pk=1).update(revision=F("revision") + 1, token=uuid.uuid4().hex)
        obj.refresh_from_db()
        from .cache import revision_bumped

        revision_bumped((obj.revision, obj.token))
        return obj.revision
