"""The outbox's knobs, read from ``settings.TESSERA_ACTIONS`` with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class OutboxSettings:
    """How often and how long the outbox tries.

    ``lease_seconds`` must exceed the longest single attempt (e-mail and webhook timeouts):
    a lease that expires while a send is still running lets a second worker send again.
    """

    max_attempts: int = 8
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    lease_seconds: float = 120.0
    redispatch_seconds: float = 300.0
    tick_batch: int = 500
    # Finished entries (sent, skipped) are kept this long for the admin and audits, then
    # purged in batches; 0 keeps them forever. Failed entries stay until a person acts.
    retention_days: float = 30.0
    purge_batch: int = 5000


def outbox_settings() -> OutboxSettings:
    """Read per call, so ``override_settings`` in tests and env in workers both apply."""
    given = getattr(settings, "TESSERA_ACTIONS", {}) or {}
    known = OutboxSettings.__dataclass_fields__
    return OutboxSettings(**{k: v for k, v in given.items() if k in known})
