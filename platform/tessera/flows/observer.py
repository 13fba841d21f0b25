"""Starts workflows that begin when a record is created, in the creating transaction."""

from __future__ import annotations

from tessera.records.observers import Write


class FlowStarter:
    """A record observer: a new ticket gets its workflow run before anyone can see it."""

    type = "flows"

    def records_written(self, object_key: str, writes: list[Write]) -> None:
        from .service import start_for_new_records

        created = [w.record_id for w in writes if w.action == "create"]
        if created:
            start_for_new_records(object_key, created)

    def records_changed(self, object_key: str, writes: list[Write]) -> None:
        pass

    def events_added(self, object_key: str, record_ids: list[int], types: set[str]) -> None:
        pass


OBSERVER = FlowStarter()
