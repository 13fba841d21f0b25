"""Which conditions a committed write can change, and the task that re-checks only those.

The index maps an object key to the *watchers* that read it: each published dynamic
segment, and each object's lifecycle rules. For a write to a record of object X:

- a watcher on X itself re-checks that record if a field it reads changed (any watcher on
  X when the record is new: ``orders.count = 0`` matches a new customer);
- a watcher that aggregates X (``orders.*`` on customer) re-checks the customer the order
  points at, before and after the write, if the order's fields it reads changed;
- a watcher that follows a relation to X (``referrer.city``) re-checks the records that
  point at the changed one (looked up in the task, on the relation index);
- an event re-checks its subject for the watchers that read that event type.

The observer only looks this up in memory (the index is cached per definitions revision)
and enqueues one task; the writing request never waits for a re-check.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from tessera.definitions.cache import RevisionCache
from tessera.records.observers import Write

from .reads import Reads

SEGMENT, LIFECYCLE = "segment", "lifecycle"


@dataclass(frozen=True)
class Watcher:
    """Something kept fresh from a condition's reads: ``segment:vip``, ``lifecycle:customer``."""

    kind: str
    name: str
    reads: Reads

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


_index = RevisionCache()


def _build() -> dict[str, list[Watcher]]:
    from . import lifecycle
    from .membership import all_compiled

    watchers = [Watcher(SEGMENT, c.key, c.reads) for c in all_compiled() if c.mode == "dynamic"]
    watchers += [Watcher(LIFECYCLE, key, reads) for key, reads in lifecycle.all_reads().items()]
    by_object: dict[str, list[Watcher]] = defaultdict(list)
    for watcher in watchers:
        for object_key in sorted(watcher.reads.objects()):
            by_object[object_key].append(watcher)
    return dict(by_object)


def watchers_of(object_key: str) -> list[Watcher]:
    return _index.get("index", _build).get(object_key, [])


def watcher(key: str) -> Watcher | None:
    kind, _, name = key.partition(":")
    for item in _index.get("index", _build).values():
        for found in item:
            if found.kind == kind and found.name == name:
                return found
    return None


def _record_id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def affected_by_writes(
    object_key: str, writes: list[Write]
) -> tuple[dict[str, set[int]], list[tuple[str, str, list[int]]]]:
    """(watcher key → record ids to re-check, [(watcher key, relation field, target ids)])."""
    targets: dict[str, set[int]] = defaultdict(set)
    lookups: list[tuple[str, str, list[int]]] = []
    for found in watchers_of(object_key):
        reads = found.reads
        if reads.object_key == object_key:
            for write in writes:
                if write.action == "create" or (
                    write.action == "update" and write.changed & reads.fields
                ):
                    targets[found.key].add(write.record_id)
        for (source, link), names in reads.incoming.items():
            if source != object_key:
                continue
            for write in writes:
                if write.action != "update" or write.changed & names:
                    for value in (write.before.get(link), write.after.get(link)):
                        if _record_id(value) is not None:
                            targets[found.key].add(value)
        for link, name in sorted(reads.forward.get(object_key, ())):
            # a target that is pointed at cannot be deleted (records refuses), so updates only
            ids = [w.record_id for w in writes if w.action == "update" and name in w.changed]
            if ids:
                lookups.append((found.key, link, ids))
    return {k: v for k, v in targets.items() if v}, lookups


def affected_by_events(
    object_key: str, record_ids: list[int], types: set[str]
) -> dict[str, set[int]]:
    return {
        found.key: set(record_ids)
        for found in watchers_of(object_key)
        if found.reads.object_key == object_key and found.reads.events & types
    }


class SegmentsObserver:
    """Told by records about every committed write and event; enqueues the re-checks."""

    type = "segments"

    def records_changed(self, object_key: str, writes: list[Write]) -> None:
        targets, lookups = affected_by_writes(object_key, writes)
        if targets or lookups:
            _enqueue(targets, lookups)

    def events_added(self, object_key: str, record_ids: list[int], types: set[str]) -> None:
        targets = affected_by_events(object_key, record_ids, types)
        if targets:
            _enqueue(targets, [])


def _enqueue(targets: dict[str, set[int]], lookups: list[tuple[str, str, list[int]]]) -> None:
    from .tasks import enqueue, recheck

    enqueue(
        recheck,
        {key: sorted(ids) for key, ids in targets.items()},
        [[key, link, ids] for key, link, ids in lookups],
    )


OBSERVER = SegmentsObserver()
