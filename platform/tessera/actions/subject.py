"""The subject record of an effect: read it, change it under a lock, know who acts.

Public for action plugins, so a database-only action needs no knowledge of records' locking:
``update(effect, compute)`` locks the row, hands ``compute`` the current data and writes the
changes it returns through ``tessera.records.service`` with the version it just read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model

from tessera.records import service as records
from tessera.records.models import Record

from .types import Effect


def actor(effect: Effect):
    """The user the caller named in ``context["actor"]`` (an id), or None for the system."""
    actor_id = effect.context.get("actor")
    if not isinstance(actor_id, int) or isinstance(actor_id, bool):
        return None
    return get_user_model().objects.filter(pk=actor_id).first()


def comment(effect: Effect) -> str:
    return f"action {effect.type} ({effect.key})"[:500]


def load(effect: Effect, *, for_update: bool = False) -> Record:
    """The subject record; RecordNotFound (a permanent failure) when it is gone."""
    if effect.record_id is None:
        raise records.RecordNotFound("this action has no subject record")
    query = Record.objects.select_for_update() if for_update else Record.objects
    if effect.object_key:
        query = query.filter(object_key=effect.object_key)
    record = query.filter(pk=effect.record_id).first()
    if record is None:
        raise records.RecordNotFound(f"no {effect.object_key or 'record'} #{effect.record_id}")
    return record


def update(
    effect: Effect, compute: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> tuple[Record, bool]:
    """Apply ``compute(current data)``'s changes (None: nothing to change) to the subject.

    The row is locked first, so the version handed to records is the one we read and no
    other writer can slip in between (records still checks it). Returns the record and
    whether it changed. Call it inside a transaction: a transactional action always is.
    """
    record = load(effect, for_update=True)
    changes = compute(dict(record.data))
    if not changes:
        return record, False
    saved = records.update(
        record.object_key,
        record.pk,
        changes,
        version=record.version,
        actor=actor(effect),
        comment=comment(effect),
    )
    return saved, True
