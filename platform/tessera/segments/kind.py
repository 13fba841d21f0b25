"""The ``segment`` kind: what the store checks when a segment is saved, and its publish step.

Checks (on every draft save and again at publish): the object is published, the condition
parses for it (every error under ``$.condition``), the segments it names are published,
about the same object, and do not lead back to this one. Publishing computes the membership
in the publishing transaction (set-based, entries and exits as events), so the segment is
correct the moment it is visible; segments that use this one are recomputed after commit.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from tessera.definitions.cache import published
from tessera.definitions.durations import parse_duration
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.definitions.kinds import KindHandler
from tessera.definitions.models import Definition

from . import membership

MIN_REFRESH_SECONDS = 60


def check(body: dict[str, Any], key: str) -> list[FieldError]:
    object_key = body["object"]
    if published("object", object_key) is None:
        return [
            FieldError("$.object", "unknown_object", f"{object_key!r} is not a published object")
        ]
    errors: list[FieldError] = []
    refresh = body.get("refresh")
    if refresh is not None:
        problem = _refresh_problem(refresh)
        if problem:
            errors.append(FieldError("$.refresh", "invalid", problem))
    try:
        membership.parse_segment(key, body)
    except ValidationFailed as exc:
        errors += exc.errors
    return errors


def _refresh_problem(text: str) -> str | None:
    try:
        delta = parse_duration(text)
    except ValueError as exc:
        return str(exc)
    from django.utils import timezone

    now = timezone.now()
    if (now + delta - now).total_seconds() < MIN_REFRESH_SECONDS:
        return "a segment is re-checked at most every minute (PT1M)"
    return None


def before_publish(
    previous: Definition | None, pending: Definition, migration: dict[str, Any] | None
) -> None:
    if migration:
        raise ValidationFailed(
            [FieldError("$.migration", "invalid", "a segment has no data to migrate")]
        )
    body = pending.body
    node = membership.parse_segment(pending.key, body)
    membership.refresh(pending.key, node=node, object_key=body["object"], version=pending.version)
    # Segments that use this one read its new condition only once it is published.
    transaction.on_commit(lambda: _refresh_dependents(pending.key))


def _refresh_dependents(key: str) -> None:
    from .tasks import enqueue, refresh_dependents

    enqueue(refresh_dependents, key)


SEGMENT_KIND = KindHandler(type="segment", check=check, before_publish=before_publish)
