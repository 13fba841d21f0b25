"""The timers' settings: ``TESSERA_TIMERS`` in Django settings, over these defaults."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # A timer whose handler fails this many times becomes `failed`: a person retries it.
    "max_attempts": 5,
    # Retry n waits backoff_seconds * 2**(n-1), at most backoff_max_seconds.
    "backoff_seconds": 30,
    "backoff_max_seconds": 3600,
    # Timers claimed (and fired) per transaction on PostgreSQL, and per tick / task batch.
    "batch": 500,
    # SQLite has one writer: shorter transactions, so web requests get the lock in between.
    "sqlite_batch": 50,
    # At most this many `tessera.timers.fire_due` tasks the tick sends when more is due
    # than one batch (PostgreSQL; on SQLite more workers would only queue for the lock).
    "fan_out": 8,
    # How long one tick or fan-out task keeps firing batches; None: the tick interval.
    "task_seconds": None,
}


def timer_settings() -> dict[str, Any]:
    merged = {**DEFAULTS, **getattr(settings, "TESSERA_TIMERS", {})}
    if merged["task_seconds"] is None:
        merged["task_seconds"] = float(settings.TESSERA_TICK_SECONDS)
    return merged
