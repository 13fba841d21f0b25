"""Chart and KPI blocks: an aggregate over the rows a person may read."""

from __future__ import annotations

from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .. import charts
from ..aggregates import grouped, total
from ..labels import object_label, text
from ..query import BlockProblem, ObjectView, narrowed
from .base import BlockContext, BlockType

STAGES = [
    gettext_noop("entered"),
    gettext_noop("sent"),
    gettext_noop("delivered"),
    gettext_noop("opened"),
    gettext_noop("clicked"),
    gettext_noop("converted"),
]


def campaign_metrics(ctx: BlockContext) -> dict[str, Any]:
    """A campaign's counts, for people who may read the records it runs on."""
    from tessera.definitions.cache import published
    from tessera.flows.campaigns.metrics import campaign_metrics as compute

    key = ctx.block.get("campaign")
    definition = published("campaign", key) if isinstance(key, str) else None
    if definition is None:
        raise BlockProblem(f"campaign {key!r} is not published")
    ObjectView.of(definition.body.get("object"), ctx.policy)  # no right: no_access
    if not ctx.policy.sees_every_row(definition.body.get("object")):
        raise BlockProblem("no_access")
    return {"label": text(definition.body.get("x-label"), key), **compute(key)}


class ChartBlock(BlockType):
    type = "chart"
    template = "frontend/blocks/chart.html"

    def context(self, ctx: BlockContext) -> dict[str, Any]:
        if ctx.block.get("campaign"):
            metrics = campaign_metrics(ctx)
            stages = ctx.block.get("stages") or STAGES
            points = [(_(stage), float(metrics.get(stage) or 0)) for stage in stages]
            title = self.title(ctx, metrics["label"])
            draw = charts.CHARTS.get(ctx.block.get("chart") or "funnel", charts.funnel)
            return {"title": title, "svg": draw(points, title), "points": points}
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
        ratio = ctx.block.get("divided_by")
        if isinstance(ratio, dict):
            other = ObjectView.of(ratio.get("object") or view.key, ctx.policy)
            below = total(other, narrowed(other, ratio), ratio.get("measure"))
            value = value / below if below else 0.0
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
