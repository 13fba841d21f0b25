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

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 150, 46, 70, 26, 20


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


def layers(start: str, boxes: list[Box], edges: list[Edge]) -> dict[str, int]:
    out = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for edge in edges:
            if edge.source == node and edge.target not in out:
                out[edge.target] = out[node] + 1
                queue.append(edge.target)
    last = max(out.values(), default=0) + 1
    for box in boxes:
        out.setdefault(box.id, last)
    return out


def draw(
    start: str,
    boxes: list[Box],
    edges: list[Edge],
    title: str,
    walked: list[str] | None = None,
) -> SafeString:
    """The flow as SVG; ``walked`` (node ids in order, as a dry run took them) is drawn bold."""
    level = layers(start, boxes, edges)
    trail = walked or []
    walked_nodes = set(trail)
    walked_edges = set(pairwise(trail))
    columns: dict[int, list[Box]] = {}
    for box in boxes:
        columns.setdefault(level[box.id], []).append(box)
    place = {}
    for col, members in columns.items():
        for row, box in enumerate(members):
            place[box.id] = (PAD + col * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
    width = PAD * 2 + (max(columns, default=0) + 1) * (NODE_W + GAP_X)
    height = PAD * 2 + max((len(m) for m in columns.values()), default=1) * (NODE_H + GAP_Y)
    parts = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path'
        ' d="M0,0 L10,5 L0,10 z"/></marker></defs>'
    ]
    for edge in edges:
        if edge.source not in place or edge.target not in place:
            continue
        (x1, y1), (x2, y2) = place[edge.source], place[edge.target]
        if x2 > x1:
            sx, sy, tx, ty = x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
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
