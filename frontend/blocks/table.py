"""Table blocks: columns, the screen's segment and filter, the person's filters, order and
pages; a CSV export of the same rows and columns."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import QueryDict

from tessera.definitions.cache import published

from ..labels import field_label, humanize, object_label, show, text
from ..query import RANGED, TEXT_LIKE, ObjectView, narrowed, ordered, person_filters, titles
from .base import BlockContext, BlockType


def relation_titles(view: ObjectView, columns: list[str], rows: list[Any]) -> dict[str, dict]:
    out = {}
    for name in columns:
        prop = view.props[name]
        if prop["x-type"] != "relation":
            continue
        ids = {r.data.get(name) for r in rows if isinstance(r.data.get(name), int)}
        out[name] = titles((prop.get("x-relation") or {}).get("object", ""), ids, view.policy)
    return out


def cell(view: ObjectView, name: str, data: dict[str, Any], related: dict[str, dict]) -> str:
    value = data.get(name)
    if name in related and isinstance(value, int):
        return related[name].get(value, f"#{value}")
    return show(view.props[name], value)


def table_rows(ctx: BlockContext, params: QueryDict | None = None):
    """The block's view, columns, queryset (filtered and ordered) and the filters shown."""
    block = ctx.block
    view = ObjectView.of(block.get("object"), ctx.policy)
    columns = view.pick(block.get("columns"))
    source = ctx.request.GET if params is None else params
    local = QueryDict(mutable=True)
    for key, value in source.items():
        if key.startswith(ctx.prefix):
            local[key[len(ctx.prefix) :]] = value
    extra, shown = person_filters(view, columns, local)
    offered = [s for s in block.get("segments") or [] if isinstance(s, str)]
    chosen = local.get("segment", "")
    if chosen and chosen in offered:
        extra.append({"segment": chosen})
        shown["segment"] = chosen
    queryset = narrowed(view, block, extra)
    sort = local.get("sort")
    if not sort and isinstance(block.get("sort"), dict):
        sort = ("-" if block["sort"].get("desc") else "") + str(block["sort"].get("field", ""))
    queryset, sort = ordered(view, queryset, sort)
    return view, columns, queryset, shown, sort, local


class TableBlock(BlockType):
    type = "table"
    template = "frontend/blocks/table.html"

    def render(self, ctx: BlockContext):
        if ctx.block.get("campaign"):
            return CampaignTable().render(ctx)
        return super().render(ctx)

    def context(self, ctx: BlockContext) -> dict[str, Any]:
        view, columns, queryset, shown, sort, local = table_rows(ctx)
        size = ctx.block.get("page_size") or settings.TESSERA_UI["page_size"]
        paginator = Paginator(queryset, size)
        page = paginator.get_page(local.get("page") or 1)
        rows = list(page.object_list)
        related = relation_titles(view, columns, rows)
        headers = []
        for name in columns:
            prop = view.props[name]
            kind = prop["x-type"]
            headers.append(
                {
                    "name": name,
                    "label": field_label(view.body, name),
                    "sorted": "asc" if sort == name else "desc" if sort == f"-{name}" else "",
                    "next_sort": f"-{name}" if sort == name else name,
                    "filter": "text"
                    if kind in TEXT_LIKE
                    else "enum"
                    if kind == "enum"
                    else "boolean"
                    if kind == "boolean"
                    else "range"
                    if kind in RANGED
                    else "",
                    "input": "date" if kind in ("date", "datetime") else "number",
                    "options": [(o, show(prop, o)) for o in prop.get("enum", [])],
                    "value": shown.get(name, ""),
                    "min": shown.get(f"{name}.min", ""),
                    "max": shown.get(f"{name}.max", ""),
                }
            )
        body_rows = [
            {
                "id": r.pk,
                "url": ctx.record_url(view.key, r.pk),
                "cells": [cell(view, n, r.data, related) for n in columns],
            }
            for r in rows
        ]
        query = {ctx.prefix + k: v for k, v in local.items() if k != "page"}
        segments = []
        for key in ctx.block.get("segments") or []:
            definition = published("segment", key) if isinstance(key, str) else None
            if definition is not None:
                segments.append((key, text(definition.body.get("x-label"), key)))
        return {
            "title": self.title(ctx, object_label(view.body, view.key, plural=True)),
            "headers": headers,
            "rows": body_rows,
            "page": page,
            "sort": sort,
            "query": query,
            "prefix": ctx.prefix,
            "segments": segments,
            "segment": shown.get("segment", ""),
            "export": ctx.block.get("export", True) and not ctx.preview,
            "fragment_url": ctx.url("block"),
            "export_url": ctx.url("export"),
        }


class CampaignTable(BlockType):
    """A campaign's results per variant (entered, sent, opened, converted, uplift…)."""

    type = "table"
    template = "frontend/blocks/campaign_table.html"

    def context(self, ctx: BlockContext) -> dict[str, Any]:
        from .chart import campaign_metrics

        metrics = campaign_metrics(ctx)
        columns = ctx.block.get("columns") or ["variant", "entered", "converted", "conversion_rate"]
        rows = []
        for name, counts in sorted((metrics.get("variants") or {}).items()):
            values = {"variant": name, **counts}
            cells = []
            for column in columns:
                value = values.get(column)
                if isinstance(value, float) and ("rate" in column or "uplift" in column):
                    value = f"{value:.1%}"
                cells.append("" if value is None else value)
            rows.append(cells)
        return {
            "title": self.title(ctx, metrics["label"]),
            "headers": [humanize(c) for c in columns],
            "rows": rows,
        }
