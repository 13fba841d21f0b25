"""Saving, validating, publishing and comparing definitions: the only way they change.

GraphQL mutations, admin views, commands and the pack installer all call these functions,
so every surface gets the same checks and the same errors.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from . import diff as diffing
from .errors import FieldError, ValidationFailed
from .kinds import handler
from .meta import meta_errors
from .models import Definition, DefinitionsRevision, Kind, Source, Status
from .safety import bounds_problem, reference_problems

KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def check_key(kind: Any, key: Any) -> None:
    """Refuse a kind or key that is not a slug before it reaches a query (or inline SQL)."""
    if not isinstance(kind, str) or kind not in Kind.values:
        raise ValidationFailed([FieldError("$.kind", "unknown_kind", f"unknown kind {kind!r}")])
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise ValidationFailed(
            [
                FieldError(
                    "$.key", "invalid", "a key is a lower-case ASCII slug of 1 to 64 characters"
                )
            ]
        )


class PublishRefused(Exception):
    """Publishing would break data already stored; ``report`` says what and where."""

    def __init__(self, message: str, report: dict[str, Any]):
        self.report = report
        super().__init__(message)


def body_errors(kind: str, key: str, body: Any, *, semantic: bool = True) -> list[FieldError]:
    """Every problem with a body, cheapest checks first so hostile input stops early.

    ``semantic=False`` stops after the meta-schema: for a batch whose other members the
    kind's own checks need (a workflow over an object the same batch publishes first).
    """
    if kind not in Kind.values:
        return [FieldError("$", "unknown_kind", f"unknown kind {kind!r}")]
    limits = settings.TESSERA_LIMITS
    if not isinstance(body, dict):
        return [FieldError("$", "type", "a definition body is a JSON object")]
    # an iterative walk first: json.dumps recurses, and a 1,000-deep body is "too deep"
    problem = bounds_problem(
        body, max_bytes=limits["schema_bytes"], max_depth=limits["schema_depth"], what="definition"
    )
    if problem:
        return [problem]
    try:
        size = len(json.dumps(body, ensure_ascii=False).encode())
    except (TypeError, ValueError, RecursionError):
        return [FieldError("$", "not_json", "the body is not plain JSON")]
    if size > limits["schema_bytes"]:
        return [
            FieldError("$", "too_large", f"the body is larger than {limits['schema_bytes']} bytes")
        ]
    refs = reference_problems(body)
    if refs:
        return refs
    errors = meta_errors(kind, body)
    if errors:
        return errors
    check = handler(kind).check if semantic else None
    return check(body, key) if check else []


def validate(kind: str, key: str, body: Any) -> None:
    errors = body_errors(kind, key, body)
    if errors:
        raise ValidationFailed(errors)


def current(kind: str, key: str) -> Definition | None:
    """The published version of a definition, or None."""
    return Definition.objects.filter(kind=kind, key=key, status=Status.PUBLISHED).first()


def draft(kind: str, key: str) -> Definition | None:
    return Definition.objects.filter(kind=kind, key=key, status=Status.DRAFT).first()


def versions(kind: str, key: str) -> list[Definition]:
    return list(Definition.objects.filter(kind=kind, key=key).order_by("version"))


@transaction.atomic
def save_draft(
    kind: str,
    key: str,
    body: Any,
    *,
    author=None,
    comment: str = "",
    source: str = Source.PERSON,
    pack: str = "",
    pack_version: str = "",
) -> Definition:
    """Create or replace the draft of a definition; the body must pass its meta-schema."""
    check_key(kind, key)
    validate(kind, key, body)
    existing = (
        Definition.objects.select_for_update()
        .filter(kind=kind, key=key, status=Status.DRAFT)
        .first()
    )
    if existing:
        existing.body, existing.comment, existing.author = body, comment, author
        existing.source, existing.source_pack, existing.source_pack_version = (
            source,
            pack,
            pack_version,
        )
        existing.save()
        return existing
    latest = Definition.objects.filter(kind=kind, key=key).aggregate(v=Max("version"))["v"] or 0
    return Definition.objects.create(
        kind=kind,
        key=key,
        version=latest + 1,
        body=body,
        comment=comment,
        author=author,
        source=source,
        source_pack=pack,
        source_pack_version=pack_version,
    )


@transaction.atomic
def publish(
    kind: str, key: str, *, author=None, migration: dict[str, Any] | None = None
) -> Definition:
    """Publish the draft: check it, run the kind's publish steps, bump the revision.

    Everything happens in one transaction: if a step refuses (a breaking change without a
    migration) or fails, nothing is published and no data changed.
    """
    check_key(kind, key)
    pending = (
        Definition.objects.select_for_update()
        .filter(kind=kind, key=key, status=Status.DRAFT)
        .first()
    )
    if pending is None:
        raise ValidationFailed(
            [FieldError("$", "no_draft", f"{kind} {key!r} has no draft to publish")]
        )
    validate(kind, key, pending.body)
    previous = (
        Definition.objects.select_for_update()
        .filter(kind=kind, key=key, status=Status.PUBLISHED)
        .first()
    )
    step = handler(kind).before_publish
    if step:
        step(previous, pending, migration)
    if previous:
        previous.status = Status.ARCHIVED
        previous.save(update_fields=["status", "updated_at"])
    pending.status = Status.PUBLISHED
    pending.published_at = timezone.now()
    if author is not None:
        pending.author = author
    pending.save(update_fields=["status", "published_at", "author", "updated_at"])
    DefinitionsRevision.bump()
    return pending


def save_and_publish(kind: str, key: str, body: Any, **kwargs: Any) -> Definition:
    """Save a draft, then publish it. A refused publish keeps the draft for a second try."""
    migration = kwargs.pop("migration", None)
    save_draft(kind, key, body, **kwargs)
    return publish(kind, key, author=kwargs.get("author"), migration=migration)


@transaction.atomic
def archive(kind: str, key: str) -> Definition | None:
    """Retire a definition: its published version becomes archived; data stays."""
    published = current(kind, key)
    if published is None:
        return None
    published.status = Status.ARCHIVED
    published.save(update_fields=["status", "updated_at"])
    DefinitionsRevision.bump()
    return published


def compare(
    kind: str, key: str, *, old_version: int | None = None, new_version: int | None = None
) -> list[diffing.Change]:
    """The diff from a version (default: the published one) to another (default: the draft)."""
    qs = Definition.objects.filter(kind=kind, key=key)
    old = qs.filter(version=old_version).first() if old_version else current(kind, key)
    new = qs.filter(version=new_version).first() if new_version else draft(kind, key)
    return diffing.diff(old.body if old else {}, new.body if new else {})
