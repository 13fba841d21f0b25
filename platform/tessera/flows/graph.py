"""The flow graph every authoring form compiles to, and the cache of compiled versions.

A workflow (states and transitions) and a campaign (trigger, waits, branches…) are two ways
of writing one thing: nodes of registered types joined by labelled edges. The runtime walks
only this graph, so a new authoring form adds a compiler here, not a second runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tessera.conditions.tree import Node as Condition
from tessera.definitions.cache import RevisionCache
from tessera.definitions.models import Definition
from tessera.plugins import Registry


@dataclass(frozen=True)
class Node:
    """One place in a flow: its type (a registered node type), settings and outgoing edges."""

    id: str
    type: str
    config: dict[str, Any] = field(default_factory=dict)
    next: dict[str, str] = field(default_factory=dict)  # edge label -> node id


@dataclass(frozen=True)
class Transition:
    """A move a person makes between states, with what must hold for it."""

    name: str
    sources: tuple[str, ...]
    target: str
    label: dict[str, str] = field(default_factory=dict)
    guard: Condition | None = None
    required_fields: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    actions: tuple[dict[str, Any], ...] = ()
    comment: str = "optional"
    after: str | None = None  # taken by the system this long after the run enters a source


@dataclass(frozen=True)
class Flow:
    """A compiled, published version of a flow definition."""

    kind: str
    key: str
    version: int
    object_key: str
    start: str
    nodes: dict[str, Node]
    transitions: dict[str, Transition] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # calendar, state_field, assignment…

    def transitions_from(self, node_id: str) -> list[Transition]:
        return [t for t in self.transitions.values() if node_id in t.sources]


@dataclass(frozen=True)
class FlowKind:
    """An authoring form of flows: the definition kind and its compiler to the graph."""

    type: str
    compile: Callable[[Definition], Flow]


flow_kinds: Registry = Registry("flow kind")

_compiled = RevisionCache()


class FlowNotFound(LookupError):
    pass


def load(kind: str, key: str, version: int | None = None) -> Flow:
    """A compiled version of a flow (the published one when ``version`` is None).

    Published versions are immutable, but what a guard compiles to depends on the object's
    published shape, so compiled flows are cached per definitions revision like every cache.
    """
    from tessera.definitions.cache import published

    if version is None:
        definition = published(kind, key)
        if definition is None:
            raise FlowNotFound(f"no published {kind} {key!r}")
        version = definition.version

    def compute() -> Flow:
        definition = Definition.objects.filter(kind=kind, key=key, version=version).first()
        if definition is None or definition.published_at is None:
            raise FlowNotFound(f"{kind} {key!r} has no published version {version}")
        return flow_kinds.get(kind).compile(definition)

    return _compiled.get((kind, key, version), compute)
