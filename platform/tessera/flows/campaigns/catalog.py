"""The published campaigns, compiled, and what each listens to: cached per definitions revision.

The records observer asks this on every committed write and event, so it must answer from
memory: which campaigns care about events of these types on this object, which have a goal
that a change to these records may meet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from tessera.definitions.cache import RevisionCache, published_keys
from tessera.plugins import triggers

from ..graph import Flow, FlowNotFound, load

logger = logging.getLogger(__name__)
_index = RevisionCache()


@dataclass
class Index:
    """Published campaigns by key, and per object the event types and goals they watch."""

    flows: dict[str, Flow] = field(default_factory=dict)
    # object key → event type → campaign keys (triggers and goal events)
    events: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    # object key → campaign keys whose goal is a condition on the customer
    conditions: dict[str, set[str]] = field(default_factory=dict)


def event_types(flow: Flow) -> set[str]:
    """The event types a campaign reacts to: its trigger's and its goal's."""
    config = flow.options["trigger"]
    found = (
        set(triggers.get(config["type"]).event_types(config))
        if config["type"] in triggers
        else set()
    )
    goal = flow.options.get("goal") or {}
    if "event" in goal:
        found.add(goal["event"])
    return found


def _build() -> Index:
    index = Index()
    for key in sorted(published_keys("campaign")):
        try:
            flow = load("campaign", key)
            types = event_types(flow)
        except FlowNotFound:
            continue
        except Exception:  # published once, broken since (its object changed): left out, said
            logger.exception("campaign %s no longer compiles; it takes nobody in", key)
            continue
        index.flows[key] = flow
        by_type = index.events.setdefault(flow.object_key, {})
        for name in types:
            by_type.setdefault(name, set()).add(key)
        if "node" in (flow.options.get("goal") or {}):
            index.conditions.setdefault(flow.object_key, set()).add(key)
    return index


def index() -> Index:
    return _index.get("index", _build)


def flows() -> list[Flow]:
    return list(index().flows.values())


def listening(object_key: str, types: set[str]) -> set[str]:
    by_type = index().events.get(object_key, {})
    return set().union(*(by_type.get(t, set()) for t in types)) if by_type else set()


def with_condition_goal(object_key: str) -> set[str]:
    return index().conditions.get(object_key, set())
