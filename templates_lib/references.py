"""Which definitions a definition refers to, and an order that publishes referents first.

It reads bodies generically, so it works for any kind registered now or later: a string
under one of the keys below names a definition of that kind (``"object": "customer"`` in a
segment, a screen block or an ``x-relation``; ``"segment": "vip"`` in a condition;
``"calendar": "cn-workdays"`` in a workflow). Kinds that others refer to come first when
nothing else decides: objects, calendars, segments, workflows, campaigns, screens.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from tessera.definitions.errors import json_path
from tessera.definitions.service import KEY

REFERENCE_KEYS = {
    "object": "object",
    "segment": "segment",
    "calendar": "calendar",
    "workflow": "workflow",
    "campaign": "campaign",
    "screen": "screen",
}
KIND_RANK = {"object": 0, "calendar": 1, "segment": 2, "workflow": 3, "campaign": 4, "screen": 5}

Ref = tuple[str, str]


def references(kind: str, key: str, body: Any) -> set[Ref]:
    """Every (kind, key) the body names, except itself."""
    return {ref for ref, _ in reference_paths(kind, key, body)}


def reference_paths(kind: str, key: str, body: Any) -> list[tuple[Ref, str]]:
    """Every (kind, key) the body names, except itself, with the JSON path naming it."""
    found: list[tuple[Ref, str]] = []
    stack: list[tuple[Any, list[str | int]]] = [(body, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for name, value in node.items():
                target = REFERENCE_KEYS.get(name) if isinstance(name, str) else None
                if target and isinstance(value, str) and KEY.fullmatch(value):
                    if (target, value) != (kind, key):
                        found.append(((target, value), json_path([*path, name])))
                elif isinstance(value, dict | list):
                    stack.append((value, [*path, name]))
        elif isinstance(node, list):
            stack.extend((v, [*path, i]) for i, v in enumerate(node) if isinstance(v, dict | list))
    return sorted(found, key=lambda item: item[1])


class Cycle(ValueError):
    """Definitions that refer to each other in a loop: none of them can be published first."""

    def __init__(self, members: list[Ref]):
        self.members = members
        chain = " → ".join(f"{k} {n}" for k, n in [*members, members[0]])
        super().__init__(f"these definitions refer to each other in a loop: {chain}")


def dependency_order(bodies: dict[Ref, Any]) -> list[Ref]:
    """The refs of ``bodies`` with every referent before its referrers (within ``bodies``)."""
    needs = {ref: references(*ref, body) & set(bodies) for ref, body in bodies.items()}
    users: dict[Ref, set[Ref]] = {ref: set() for ref in bodies}
    for ref, targets in needs.items():
        for target in targets:
            users[target].add(ref)
    waiting = {ref: len(targets) for ref, targets in needs.items()}
    ready = [(_rank(ref), ref) for ref, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    out: list[Ref] = []
    while ready:
        _, ref = heapq.heappop(ready)
        out.append(ref)
        for user in users[ref]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (_rank(user), user))
    if len(out) < len(bodies):
        raise Cycle(_a_cycle({r: needs[r] for r in bodies if r not in out}))
    return out


def _rank(ref: Ref) -> tuple[int, str, str]:
    return (KIND_RANK.get(ref[0], len(KIND_RANK)), ref[0], ref[1])


def _a_cycle(needs: dict[Ref, set[Ref]]) -> list[Ref]:
    start = min(needs, key=_rank)
    path, seen = [start], {start: 0}
    while True:
        nxt = min((t for t in needs[path[-1]] if t in needs), key=_rank)
        if nxt in seen:
            return path[seen[nxt] :]
        seen[nxt] = len(path)
        path.append(nxt)


def outside(bodies: dict[Ref, Any]) -> dict[Ref, set[Ref]]:
    """Per referent outside ``bodies``, the definitions of ``bodies`` that name it."""
    found: dict[Ref, set[Ref]] = {}
    for ref, body in bodies.items():
        for target in references(*ref, body):
            if target not in bodies:
                found.setdefault(target, set()).add(ref)
    return found


def types_used(body: Any) -> Iterable[tuple[str, str]]:
    """(attribute, value) of every ``x-type`` and ``type`` slug in a body, for plugin lookup."""
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for name in ("x-type", "type"):
                if isinstance(node.get(name), str):
                    yield name, node[name]
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
