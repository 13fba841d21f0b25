"""Who wants to know when records are written or events added, told after the commit.

Layers above records (segments keep membership fresh, flows may wake runs) register an
observer here in their ``AppConfig.ready()``; records never imports them. Observers are told
once the writing transaction commits (``transaction.on_commit``), so they never see a write
that was rolled back, and a failing observer cannot undo a write: its error is logged.
An observer should be quick (look up what it cares about, enqueue a task) so writes stay fast.

::

    class SegmentsObserver:
        type = "segments"

        def records_changed(self, object_key, writes): ...
        def events_added(self, object_key, record_ids, types): ...

    observers.register(SegmentsObserver())
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, NamedTuple, Protocol

from django.db import transaction

from tessera.plugins import Registry

logger = logging.getLogger(__name__)


class Write(NamedTuple):
    """One committed write to a record: its data before and after (``{}`` when absent).

    A named tuple, not a frozen dataclass: an import makes one per record it writes, and a
    frozen dataclass's ``__init__`` (``object.__setattr__`` per field) cost four times as
    much. Every caller names all four.
    """

    record_id: int
    action: str  # "create" | "update" | "delete"
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def changed(self) -> frozenset[str]:
        """The top-level fields whose value differs (all of them on create and delete)."""
        names = set(self.before) | set(self.after)
        return frozenset(n for n in names if self.before.get(n) != self.after.get(n))


class RecordObserver(Protocol):
    """Told about committed writes and events; ``type`` names it in the registry."""

    type: str

    def records_changed(self, object_key: str, writes: list[Write]) -> None: ...

    def events_added(self, object_key: str, record_ids: list[int], types: set[str]) -> None: ...


observers: Registry = Registry("record observer")


def _call(method: str, *args: Any) -> None:
    for observer in observers:
        try:
            getattr(observer, method)(*args)
        except Exception:
            # The write is committed; an observer's failure is its own (it can catch up later).
            logger.exception("record observer %s failed in %s", observer.type, method)


def records_changed(object_key: str, writes: Iterable[Write]) -> None:
    """Tell every observer about ``writes`` once the current transaction commits."""
    writes = list(writes)
    if writes and observers.keys():
        transaction.on_commit(lambda: _call("records_changed", object_key, writes))


def events_added(object_key: str, record_ids: Iterable[int], types: Iterable[str]) -> None:
    """Tell every observer that events of ``types`` were added to these records, on commit."""
    ids, kinds = sorted(set(record_ids)), set(types)
    if ids and observers.keys():
        transaction.on_commit(lambda: _call("events_added", object_key, ids, kinds))


def records_written(object_key: str, writes: Iterable[Write]) -> None:
    """Tell observers that must act in the writing transaction itself, now.

    For work that has to commit or roll back with the write: a workflow run starting with
    the ticket it belongs to, so no ticket ever exists without its run. An observer opts in
    by defining ``records_written``; its exception rolls the write back.
    """
    writes = list(writes)
    for observer in observers:
        hook = getattr(observer, "records_written", None)
        if hook is not None and writes:
            hook(object_key, writes)
