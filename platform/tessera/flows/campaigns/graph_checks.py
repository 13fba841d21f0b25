"""Graph checks of a campaign: reachable nodes, paths that end, loops that wait.

A customer walks the graph without anyone's help, so a node nobody reaches is a mistake, a
node from which no path reaches an ``end`` keeps customers forever, and a loop without a
``wait`` would spin (branch → send → branch…) until the runtime stops it.
"""

from __future__ import annotations

from collections import deque

from tessera.definitions.errors import FieldError


def _reach(start: str, graph: dict[str, set[str]]) -> set[str]:
    seen, queue = {start}, deque([start])
    while queue:
        for target in graph.get(queue.popleft(), ()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _loop_without_wait(graph: dict[str, set[str]], waits: set[str]) -> list[str]:
    """Nodes on a cycle that passes no wait node (an iterative three-colour DFS)."""
    plain = {n: {t for t in targets if t not in waits} for n, targets in graph.items()}
    colour: dict[str, int] = {}
    found: list[str] = []
    for root in sorted(plain):
        if root in waits or colour.get(root):
            continue
        stack = [(root, iter(sorted(plain[root])))]
        colour[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
            elif colour.get(child) == 1:
                found.append(child)
            elif not colour.get(child):
                colour[child] = 1
                stack.append((child, iter(sorted(plain.get(child, ())))))
    return sorted(set(found))


def problems(
    start: str, graph: dict[str, set[str]], waits: set[str], ends: set[str]
) -> list[FieldError]:
    errors: list[FieldError] = []
    reachable = _reach(start, graph)
    for name in sorted(set(graph) - reachable):
        errors.append(
            FieldError(
                f"$.nodes.{name}", "unreachable", f"no path from {start!r} leads to {name!r}"
            )
        )
    reverse: dict[str, set[str]] = {n: set() for n in graph}
    for name, targets in graph.items():
        for target in targets:
            reverse.setdefault(target, set()).add(name)
    ending: set[str] = set()
    for end in ends:
        ending |= _reach(end, reverse)
    for name in sorted(reachable - ending):
        errors.append(
            FieldError(f"$.nodes.{name}", "no_end", f"no path from {name!r} reaches an end node")
        )
    for name in _loop_without_wait({n: graph[n] for n in reachable}, waits):
        errors.append(
            FieldError(
                f"$.nodes.{name}", "loop_without_wait", f"a loop through {name!r} never waits"
            )
        )
    return errors
