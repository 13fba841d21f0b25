"""Record blocks and the record page: fields, related lists, timeline, workflow steps."""

from __future__ import annotations

from typing import Any

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils.translation import gettext as _

from tessera.conditions.objects import object_info
from tessera.definitions.fields.base import SqlType
from tessera.records.indexes import field_expression
from tessera.records.models import Record

from ..labels import field_label, object_label
from ..query import BlockProblem, ObjectView, object_body
from ..work import runs_of, timeline
from .base import BlockContext, BlockType
from .table import cell, relation_titles


def visible_record(view: ObjectView, record_id: Any) -> Record:
    try:
        pk = int(record_id)
    except (TypeError, ValueError):
        raise BlockProblem(_("Choose a record in a list.")) from None
    record = view.policy.rows(view.key, Record.objects.filter(object_key=view.key, pk=pk)).first()
    if record is None:
        raise BlockProblem(_("No such record, or not one you may see."))
    return record


def related_lists(view: ObjectView, record: Record, wanted: Any) -> list[dict[str, Any]]:
    info = object_info(view.key)
    out = []
    for name, incoming in sorted((info.incoming if info else {}).items()):
        if isinstance(wanted, list) and wanted and name not in wanted:
            continue
        try:
            source = ObjectView.of(incoming.source, view.policy)
        except BlockProblem:
            continue
        if incoming.field not in source.readable:
            continue
        expr = field_expression(incoming.field, SqlType.NUMBER)
        rows = source.policy.rows(
            source.key,
            Record.objects.filter(object_key=source.key).filter(
                RawSQL(f"{expr} = %s", [record.pk], output_field=BooleanField())
            ),
        ).order_by("-id")[:10]
        rows = list(rows)
        columns = [n for n in source.pick(None, default=4) if n != incoming.field]
        related = relation_titles(source, columns, rows)
        out.append(
            {
                "name": name,
                "label": object_label(source.body, source.key, plural=True),
                "headers": [field_label(source.body, n) for n in columns],
                "rows": [
                    {
                        "url": reverse("frontend:record", args=[source.key, r.pk]),
                        "cells": [cell(source, n, r.data, related) for n in columns],
                    }
                    for r in rows
                ],
            }
        )
    return out


def record_context(
    view: ObjectView, record: Record, block: dict[str, Any], request
) -> dict[str, Any]:
    names = view.pick(block.get("fields"), default=500)
    related = relation_titles(view, names, [record])
    title = record.data.get(view.title_field) if view.title_field else None
    return {
        "object_label": object_label(view.body, view.key),
        "record": record,
        "record_title": str(title or f"#{record.pk}"),
        "fields": [
            {
                "name": n,
                "label": field_label(view.body, n),
                "value": cell(view, n, record.data, related),
            }
            for n in names
        ],
        "related": related_lists(view, record, block.get("related"))
        if block.get("related", True)
        else [],
        "timeline": timeline(record, view.body, set(view.readable))
        if block.get("timeline", True)
        else [],
        "runs": runs_of(record, request.user) if block.get("transitions", True) else [],
        "can_update": view.policy.can(view.key, "update"),
        "transition_url": reverse("frontend:transition", args=[view.key, record.pk]),
    }


class RecordBlock(BlockType):
    type = "record"
    template = "frontend/blocks/record.html"

    def context(self, ctx: BlockContext) -> dict[str, Any]:
        view = ObjectView.of(ctx.block.get("object"), ctx.policy)
        record_id = ctx.request.GET.get("record")
        if not record_id:
            return {"title": self.title(ctx, object_label(view.body, view.key)), "empty": True}
        record = visible_record(view, record_id)
        data = record_context(view, record, ctx.block, ctx.request)
        data["title"] = self.title(ctx, data["object_label"])
        return data


__all__ = ["RecordBlock", "object_body", "record_context", "visible_record"]
