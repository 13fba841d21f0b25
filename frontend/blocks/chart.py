"""Chart and KPI blocks: an aggregate over the rows a person may read."""

from __future__ import annotations

from typing import Any

from django.utils import formats

from .. import charts
from ..aggregates import grouped, total
from ..labels import object_label
from ..query import ObjectView, narrowed
from .base import BlockContext, BlockType


class ChartBlock(BlockType):
    type = "chart"
    template = "frontend/blocks/chart.html"

    def context(self, ctx: BlockContext) -> dict[str, Any]:
        view = ObjectView.of(ctx.block.get("object"), ctx.policy)
        points = grouped(view, narrowed(view, ctx.block), ctx.block)
        title = self.title(ctx, object_label(view.body, view.key, plural=True))
        draw = charts.CHARTS.get(ctx.block.get("chart") or "bar", charts.bar)
        svg = draw(points, title) if points else charts.empty(title, "—")
        return {"title": title, "svg": svg, "points": points}


class KpiBlock(BlockType):
    type = "kpi"
    template = "frontend/blocks/kpi.html"

    def context(self, ctx: BlockContext) -> dict[str, Any]:
        view = ObjectView.of(ctx.block.get("object"), ctx.policy)
        value = total(view, narrowed(view, ctx.block), ctx.block.get("measure"))
        shape = ctx.block.get("format", "number")
        if shape == "percent":
            shown = f"{value:.1%}"
        elif shape == "money":
            shown = formats.number_format(value, 2, use_l10n=True, force_grouping=True)
        else:
            shown = formats.number_format(
                value, 0 if value == int(value) else 2, use_l10n=True, force_grouping=True
            )
        return {
            "title": self.title(ctx, object_label(view.body, view.key, plural=True)),
            "value": shown,
        }
