"""Hears committed writes and events (``tessera.records.observers``) and enqueues campaign work.

It only looks in memory (``catalog``, cached per definitions revision) and sends a task:
events that trigger a campaign or meet its goal, writes to customers whose campaign has a
condition goal. The work itself, and the backstop for a task the broker lost, is elsewhere.
"""

from __future__ import annotations

from tessera.records.observers import Write

from . import catalog


class CampaignObserver:
    """A records observer: campaign triggers and goals."""

    type = "campaigns"

    def records_changed(self, object_key: str, writes: list[Write]) -> None:
        if not catalog.with_condition_goal(object_key):
            return
        ids = sorted({w.record_id for w in writes if w.action != "delete"})
        if ids:
            from .tasks import check_goals

            check_goals.delay(object_key, ids)

    def events_added(self, object_key: str, record_ids: list[int], types: set[str]) -> None:
        if catalog.listening(object_key, set(types)):
            from .tasks import process_events

            process_events.delay(object_key, sorted(record_ids), sorted(types))
        if catalog.with_condition_goal(object_key):
            from .tasks import check_goals

            check_goals.delay(object_key, sorted(record_ids))


OBSERVER = CampaignObserver()
