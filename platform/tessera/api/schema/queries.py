"""Root query fields of each object: one record, a connection, aggregates."""

from __future__ import annotations

from typing import Any

import graphene

from tessera.records.models import Record

from .. import loaders
from ..pages import Page, offset_of, page_size
from . import aggregates, filtering, ordering
from .common import DateBucket
from .objects import ObjectTypes
from .specs import ObjectSpec


def record_field(build, spec: ObjectSpec, types: ObjectTypes) -> graphene.Field:
    def resolve(root, info, id):
        ctx = info.context
        ctx.require(spec.key, "read")
        pk = _int_id(id)
        if pk is None:
            return None
        qs = ctx.policy.rows(spec.key, Record.objects.filter(object_key=spec.key, pk=pk))
        return next(iter(loaders.attach(list(qs), spec.key, ctx, spec.prop_names)), None)

    return graphene.Field(types.node, id=graphene.ID(required=True), resolver=resolve)


def _int_id(value: Any) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() and len(text) < 19 else None


def connection_field(build, spec: ObjectSpec, types: ObjectTypes) -> graphene.Field:
    def resolve(
        root, info, first=None, after=None, filter=None, condition=None, segment=None, order_by=None
    ):
        ctx = info.context
        ctx.require(spec.key, "read")
        size, offset = page_size(first), offset_of(after)
        tree = filtering.combined(build.objects, spec.key, filter, condition, segment)
        narrow = filtering.narrowing(spec.key, tree, ctx)
        order = ordering.expressions(spec, order_by, ctx)
        qs = ctx.policy.rows(spec.key, Record.objects.filter(object_key=spec.key))
        if narrow:
            qs = narrow(qs)
        rows = list(ordering.apply(qs, order)[offset : offset + size + 1])
        page = rows[:size]
        loaders.attach(page, spec.key, ctx, spec.prop_names)
        return Page(page, offset, len(rows) > size, qs.count)

    return graphene.Field(
        types.connection,
        required=True,
        first=graphene.Int(description="page size, at most 100 (default 20)"),
        after=graphene.String(),
        filter=graphene.Argument(types.filter),
        condition=graphene.Argument(build.json, description="a condition tree"),
        segment=graphene.String(description="only the members of this published segment"),
        order_by=graphene.List(graphene.NonNull(types.order_by)),
        resolver=resolve,
    )


def aggregate_field(build, spec: ObjectSpec, types: ObjectTypes) -> graphene.Field:
    def resolve(root, info, **args):
        return aggregates.resolve_groups(build, spec, info.context, args)

    args: dict[str, Any] = {
        "filter": graphene.Argument(types.filter),
        "condition": graphene.Argument(build.json),
        "segment": graphene.String(),
    }
    if types.group_by is not None:
        args["group_by"] = graphene.Argument(types.group_by)
        args["bucket"] = graphene.Argument(DateBucket)
    return graphene.List(graphene.NonNull(types.group), required=True, resolver=resolve, **args)
