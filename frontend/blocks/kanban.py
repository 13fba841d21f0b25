"""Kanban blocks: a workflow's states as columns, its running records as cards; dragging a
card to another column takes the transition that leads there."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from tessera.flows.graph import FlowNotFound, load
from tessera.flows.models import Run, RunStatus

from ..labels import object_label, show
from ..query import BlockProblem, ObjectView, narrowed
from ..work import sla_clocks, state_label, states_in_order
from .base import BlockContext, BlockType


class KanbanBlock(BlockType):
    type = "kanban"
    template = "frontend/blocks/kanban.html"

    def flow(self, ctx: BlockContext):
        key = ctx.block.get("workflow")
        if not isinstance(key, str):
            raise BlockProblem("a kanban names the workflow whose states are its columns")
        try:
            flow = load("workflow", key)
        except FlowNotFound as exc:
            raise BlockProblem(f"workflow {key!r} is not published") from exc
        if ctx.block.get("object") not in (None, flow.object_key):
            raise BlockProblem(
                f"workflow {key!r} runs on {flow.object_key}, not {ctx.block['object']}"
            )
        return flow

    def context(self, ctx: BlockContext) -> dict[str, Any]:
        flow = self.flow(ctx)
        view = ObjectView.of(flow.object_key, ctx.policy)
        records = narrowed(view, ctx.block)
        runs = (
            Run.objects.filter(
                flow_kind="workflow",
                flow_key=flow.key,
                status=RunStatus.ACTIVE,
                subject__in=records,
            )
            .select_related("subject")
            .order_by("-updated_at")[: settings.TESSERA_UI["kanban_cards"]]
        )
        fields = [
            n for n in view.pick(ctx.block.get("card_fields"), default=3) if n != view.title_field
        ]
        columns = {state: [] for state in states_in_order(flow)}
        can_move = ctx.policy.can(view.key, "update") and not ctx.preview
        for run in runs:
            data = run.subject.data
            columns.setdefault(run.node, []).append(
                {
                    "run": run.pk,
                    "version": run.version,
                    "record": run.subject_id,
                    "url": ctx.record_url(view.key, run.subject_id),
                    "title": str(data.get(view.title_field) or f"#{run.subject_id}")
                    if view.title_field
                    else f"#{run.subject_id}",
                    "fields": [
                        show(view.props[n], data.get(n))
                        for n in fields
                        if data.get(n) not in (None, "")
                    ],
                    "sla": sla_clocks(run),
                }
            )
        return {
            "title": self.title(ctx, object_label(view.body, view.key, plural=True)),
            "columns": [
                {
                    "state": s,
                    "label": state_label(flow, s),
                    "cards": cards,
                    "final": bool(flow.nodes[s].config.get("final")) if s in flow.nodes else False,
                }
                for s, cards in columns.items()
            ],
            "move_url": ctx.url("move"),
            "can_move": can_move,
        }
