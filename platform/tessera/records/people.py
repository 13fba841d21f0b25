"""The link from a row to the person who did something to it (created, moved, was assigned)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


def person_link() -> models.ForeignKey:
    """Optional, emptied when the user is deleted, with no reverse accessor and no full index.

    Rows written by the system or by imports have no person, by the million; every lookup
    names one person, so each model adds a partial index where the link is set (or a
    composite one that leads with it) instead of paying a full index on every write.
    """
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
