"""What flows (and anything else with an effect to make) call: check, enqueue, deliver, retry.

::

    from tessera.actions import service as actions

    errors = actions.check({"type": "send_email", "params": {...}}, object_key="ticket",
                           path="$.states.open.on_enter[0]")
    entry = actions.enqueue(f"run:{run.pk}:{node}:{visit}:0", action, object_key="ticket",
                            record_id=ticket.pk, context={"run": run.pk, "actor": user.pk})

``enqueue`` belongs inside the caller's transaction: the row (and a transactional effect)
commits with the caller's work, and a non-transactional effect is dispatched only after
that commit. The key is the caller's: the same key twice performs the action once.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.plugins import UnknownType
from tessera.plugins import actions as action_types

from . import outbox
from .models import OutboxEntry, OutboxStatus
from .outbox import CannotRetry
from .types import ActionType, sub_path

logger = logging.getLogger(__name__)

# Visible ASCII only: the key travels in mail and HTTP headers as it is.
KEY = re.compile(r"[\x21-\x7e]{1,255}")

__all__ = [
    "CannotRetry",
    "OutboxEntry",
    "OutboxStatus",
    "check",
    "deliver",
    "enqueue",
    "retry",
    "types",
]


def types() -> list[ActionType]:
    """Every installed action type (built-in and from plugins), by slug."""
    return sorted(action_types, key=lambda t: t.type)


def check(action: Any, *, object_key: str | None, path: str) -> list[FieldError]:
    """Problems with one ``{"type": ..., "params": {...}}`` found at ``path`` in a definition.

    ``object_key`` is the object whose records the action will run on (None when there is
    no subject). An unknown type is reported at ``path.type`` with the known ones listed.
    """
    if not isinstance(action, dict):
        return [FieldError(path, "type", "an action is an object: {type, params}")]
    errors = [
        FieldError(sub_path(path, k), "unknown_key", "an action has only 'type' and 'params'")
        for k in action
        if k not in ("type", "params")
    ]
    kind = action.get("type")
    if not isinstance(kind, str):
        return [*errors, FieldError(sub_path(path, "type"), "required", "name the action type")]
    try:
        action_type = action_types.get(kind)
    except UnknownType as exc:
        return [*errors, FieldError(sub_path(path, "type"), "unknown_action", str(exc))]
    params = action.get("params", {})
    if not isinstance(params, dict):
        return [*errors, FieldError(sub_path(path, "params"), "type", "params are an object")]
    try:
        errors += action_type.check(params, object_key=object_key, path=sub_path(path, "params"))
    except Exception as exc:  # a plugin's bug must not turn a publish into a 500
        logger.exception("action type %s failed to check its params", kind)
        errors.append(
            FieldError(sub_path(path, "params"), "check_failed", f"{kind} could not check: {exc}")
        )
    return errors


def enqueue(
    key: str,
    action: dict[str, Any],
    *,
    object_key: str | None,
    record_id: int | None,
    context: dict[str, Any] | None = None,
) -> OutboxEntry:
    """Put one effect in the outbox under ``key``; the second call with a key returns the first row.

    A transactional type is performed right here, inside the caller's transaction (the
    returned row is ``sent``, or ``failed``/``skipped`` with ``last_error``, the caller's
    work unharmed). Any other type is ``pending`` and dispatched to a worker on commit.
    Raises ValidationFailed (paths from ``$``, the action) when the action is not valid.
    """
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise ValidationFailed(
            [FieldError("$.key", "invalid", "an outbox key is 1-255 visible ASCII characters")]
        )
    existing = OutboxEntry.objects.filter(key=key).first()
    if existing is not None:
        return existing
    errors = check(action, object_key=object_key, path="$")
    if errors:
        raise ValidationFailed(errors)
    action_type = action_types.get(action["type"])
    return outbox.create(
        key,
        action,
        action_type,
        object_key=object_key,
        record_id=record_id,
        context=dict(context or {}),
    )


def deliver(entry_id: int) -> None:
    """Perform the entry now if it is due and unclaimed (what the Celery task runs)."""
    outbox.deliver(entry_id)


def retry(entry_id: int) -> None:
    """Give a failed or skipped entry a fresh set of attempts; CannotRetry if it was sent."""
    outbox.retry(entry_id)
