"""The heartbeat of the background processes, so a person can see they are alive."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """The last time a background process (the tick, a worker) reported in."""

    name = models.CharField(max_length=100, unique=True)
    beats = models.PositiveBigIntegerField(default=0)
    last_at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.last_at:%H:%M:%S}"
