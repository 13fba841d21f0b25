"""Flows drawn as SVG on the server: nodes in layers from the start, edges with their labels.

Shared by the workflow builder (states and transitions) and the campaign builder (steps and
their next/then/else/variant edges). No layout library: a breadth-first layering is enough
for flows people draw, and it is the same picture in every browser and screenshot.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import pairwise

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 150, 46, 70, 26, 20
GAP_DOWN, LOOP = 34, 50


@dataclass(frozen=True)
class Box:
    id: str
    label: str
    kind: str = ""  # css class: start, final, wait, branch…
    note: str = ""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""


def shown_label(label: object, fallback: str) -> str:
    """A node's label in the person's language (then English, then its name)."""
    if not isinstance(label, dict):
        return fallback
    first = "zh" if (get_language() or "en").startswith("zh") else "en"
    return label.get(first) or label.get("en") or fallback


def layers(
    start: str, boxes: list[Box], edges: list[Edge], *, ends_last: bool = False
) -> dict[str, int]:
    out = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for edge in edges:
            if edge.source == node and edge.target not in out:
                out[edge.target] = out[node] + 1
                queue.append(edge.target)
    # with ends_last, ends go to the last layer, so a long flow reads towards them
    ends = {box.id for box in boxes if ends_last and box.kind == "end" and box.id != start}
    last = max((v for k, v in out.items() if k not in ends), default=0) + 1
    for box in boxes:
        if box.id in ends or box.id not in out:
            out[box.id] = last
    return out


def draw(
    start: str,
    boxes: list[Box],
    edges: list[Edge],
    title: str,
    walked: list[str] | None = None,
    *,
    down: bool = False,
) -> SafeString:
    """The flow as SVG; ``walked`` (node ids in order, as a dry run took them) is drawn bold.

    Layers run left to right, or top to bottom with ``down`` (long campaigns read better down
    the page than across it)."""
    level = layers(start, boxes, edges, ends_last=down)
    trail = walked or []
    walked_nodes = set(trail)
    walked_edges = set(pairwise(trail))
    columns: dict[int, list[Box]] = {}
    for box in boxes:
        columns.setdefault(level[box.id], []).append(box)
    place = {}
    for col, members in columns.items():
        for row, box in enumerate(members):
            if down:  # room on the left for edges that skip layers
                place[box.id] = (
                    PAD + LOOP + row * (NODE_W + GAP_Y),
                    PAD + col * (NODE_H + GAP_DOWN),
                )
            else:
                place[box.id] = (PAD + col * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
    depth = max(columns, default=0) + 1
    breadth = max((len(m) for m in columns.values()), default=1)
    if down:
        width = PAD * 2 + breadth * (NODE_W + GAP_Y) + LOOP * 2
        height = PAD * 2 + depth * (NODE_H + GAP_DOWN)
    else:
        width = PAD * 2 + depth * (NODE_W + GAP_X)
        height = PAD * 2 + breadth * (NODE_H + GAP_Y)
    parts = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path'
        ' d="M0,0 L10,5 L0,10 z"/></marker></defs>'
    ]
    seen: dict[tuple[str, str], int] = {}
    for edge in edges:
        if edge.source not in place or edge.target not in place:
            continue
        (x1, y1), (x2, y2) = place[edge.source], place[edge.target]
        # a second edge between the same two nodes (two variants, then and else) sits beside
        twin = seen.get((edge.source, edge.target), 0)
        seen[(edge.source, edge.target)] = twin + 1
        shift = 16 * twin
        skips = y2 - y1 > NODE_H + GAP_DOWN and x1 == x2
        if down and skips:  # past the nodes in between: round the left-hand side
            sx, sy, tx, ty = x1, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
            reach = x1 - LOOP + 8 + shift
            path = f"M{sx},{sy} C{reach},{sy} {reach},{ty} {tx},{ty}"
            sx = tx = reach + 20
        elif down and y2 > y1:
            sx, sy = x1 + NODE_W / 2 + shift, y1 + NODE_H
            tx, ty = x2 + NODE_W / 2 + shift, y2
            path = f"M{sx},{sy} C{sx},{sy + 30} {tx},{ty - 30} {tx},{ty}"
        elif down:  # back up: round the right-hand side
            sx, sy, tx, ty = x1 + NODE_W, y1 + NODE_H / 2, x2 + NODE_W, y2 + NODE_H / 2
            reach = max(sx, tx) + LOOP
            path = f"M{sx},{sy} C{reach},{sy} {reach},{ty} {tx},{ty}"
        elif x2 > x1:
            lane = 12 * twin  # twins one under the other, labels too
            sx, sy, tx, ty = x1 + NODE_W, y1 + NODE_H / 2 + lane, x2, y2 + NODE_H / 2 + lane
            path = f"M{sx},{sy} C{sx + 35},{sy} {tx - 35},{ty} {tx},{ty}"
        else:  # back or sideways: loop over the top
            sx, sy, tx, ty = x1 + NODE_W / 2, y1, x2 + NODE_W / 2, y2
            lift = min(sy, ty) - 18
            path = f"M{sx},{sy} C{sx},{lift} {tx},{lift} {tx},{ty}"
        mx, my = (sx + tx) / 2, (sy + ty) / 2 - 5
        css = "edge walked" if (edge.source, edge.target) in walked_edges else "edge"
        parts.append(f'<path class="{css}" d="{path}" marker-end="url(#arrow)"/>')
        if edge.label:
            parts.append(
                f'<text class="edge-label" x="{mx:.0f}" y="{my:.0f}"'
                f' text-anchor="middle">{escape(edge.label[:22])}</text>'
            )
    for box in boxes:
        x, y = place[box.id]
        css = f"node {box.kind}" + (" start" if box.id == start else "")
        css += " walked" if box.id in walked_nodes else ""
        parts.append(
            f'<g class="{escape(css)}" data-node="{escape(box.id)}"><rect'
            f' x="{x}" y="{y}" width="{NODE_W}" '
            f'height="{NODE_H}" rx="8"/><text x="{x + NODE_W / 2}"'
            f' y="{y + 19}" text-anchor="middle" '
            f'class="node-label">{escape(box.label[:20])}</text><text'
            f' x="{x + NODE_W / 2}" y="{y + 35}" '
            f'text-anchor="middle" class="node-note">{escape(box.note[:24])}</text></g>'
        )
    return mark_safe(
        f'<svg class="tb-diagram" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )
