"""Charts drawn on the server as SVG: no chart library, nothing to download, the same in
every browser and in a screenshot. Each takes ``[(label, value), …]`` and returns markup."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Point = tuple[str, float]
PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d"]
W, H, PAD = 560, 260, 36


def _num(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"


def _svg(body: str, title: str, height: int = H) -> SafeString:
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {W} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def empty(title: str, message: str) -> SafeString:
    body = (
        f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" class="muted">{escape(message)}</text>'
    )
    return _svg(body, title)


def bar(points: Sequence[Point], title: str) -> SafeString:
    top = max((v for _, v in points), default=0) or 1
    inner_w, inner_h = W - 2 * PAD, H - 2 * PAD
    step = inner_w / max(len(points), 1)
    width = step * 0.7
    parts = [f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" class="axis"/>']
    for i, (label, value) in enumerate(points):
        height = inner_h * max(value, 0) / top
        x = PAD + i * step + (step - width) / 2
        y = H - PAD - height
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {_num(value)}</title></rect>'
            f'<text x="{x + width / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" class="value">'
            f"{_num(value)}</text>"
            f'<text x="{x + width / 2:.1f}" y="{H - PAD + 16}" text-anchor="middle" class="label">'
            f"{escape(label[:14])}</text>"
        )
    return _svg("".join(parts), title)


def line(points: Sequence[Point], title: str) -> SafeString:
    top = max((v for _, v in points), default=0) or 1
    inner_w, inner_h = W - 2 * PAD, H - 2 * PAD
    step = inner_w / max(len(points) - 1, 1)
    coords = [
        (PAD + i * step, H - PAD - inner_h * max(v, 0) / top) for i, (_, v) in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts = [
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" class="axis"/>',
        f'<polyline points="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>',
    ]
    for (x, y), (label, value) in zip(coords, points, strict=True):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{PALETTE[0]}">'
            f"<title>{escape(label)}: {_num(value)}</title></circle>"
            f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle"'
            f' class="value">{_num(value)}</text>'
            f'<text x="{x:.1f}" y="{H - PAD + 16}" text-anchor="middle" class="label">'
            f"{escape(label[:10])}</text>"
        )
    return _svg("".join(parts), title)


def pie(points: Sequence[Point], title: str) -> SafeString:
    total = sum(max(v, 0) for _, v in points)
    if total <= 0:
        return empty(title, "0")
    cx, cy, r = 130, H / 2, 100
    parts, angle = [], -math.pi / 2
    for i, (label, value) in enumerate(points):
        share = max(value, 0) / total
        colour = PALETTE[i % len(PALETTE)]
        if share >= 0.9999:
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="{colour}"/>')
        elif share > 0:
            end = angle + share * 2 * math.pi
            x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
            x2, y2 = cx + r * math.cos(end), cy + r * math.sin(end)
            large = 1 if share > 0.5 else 0
            parts.append(
                f'<path d="M{cx},{cy} L{x1:.1f},{y1:.1f} A{r},{r} 0 {large} 1 {x2:.1f},{y2:.1f} Z" '
                f'fill="{colour}"><title>{escape(label)}: {_num(value)}</title></path>'
            )
            angle = end
        parts.append(
            f'<rect x="270" y="{30 + i * 22}" width="12" height="12" fill="{colour}"/>'
            f'<text x="290" y="{41 + i * 22}" class="label">{escape(label[:24])}: {_num(value)} '
            f"({share:.0%})</text>"
        )
    return _svg("".join(parts), title)


def funnel(points: Sequence[Point], title: str) -> SafeString:
    top = max((v for _, v in points), default=0) or 1
    row = min(44, (H - 20) / max(len(points), 1))
    height = int(20 + row * len(points))
    parts = []
    for i, (label, value) in enumerate(points):
        width = max((W - 200) * max(value, 0) / top, 2)
        x = 120 + (W - 200 - width) / 2
        y = 10 + i * row
        rate = f" ({value / points[0][1]:.0%})" if i and points[0][1] else ""
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{row - 6:.1f}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="112" y="{y + row / 2:.1f}" text-anchor="end"'
            f' class="label">{escape(label[:16])}</text>'
            f'<text x="{W - 72}" y="{y + row / 2:.1f}" class="value">{_num(value)}{rate}</text>'
        )
    return _svg("".join(parts), title, height)


CHARTS = {"bar": bar, "line": line, "pie": pie, "funnel": funnel}
