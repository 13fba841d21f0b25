"""Fields every record type carries besides its data: reverse relations and the timeline."""

from __future__ import annotations

import graphene
from django.contrib.auth import get_user_model

from tessera.conditions.objects import Incoming
from tessera.records.history import with_creations
from tessera.records.models import Event, RecordChange

from .. import loaders
from ..errors import api_error, denied
from ..pages import offset_of, page_size
from . import filtering, ordering
from .specs import ObjectSpec

MAX_TIMELINE = 100


def reverse_field(build, spec: ObjectSpec, incoming: Incoming) -> graphene.Field:
    """``orders(first:, after:, filter:, orderBy:)`` on a customer: a connection, batched."""
    source = incoming.source

    def resolve(root, info, first=None, after=None, filter=None, condition=None, order_by=None):
        ctx = info.context
        ctx.require(source, "read")
        if ctx.policy.denied_fields(source, [incoming.field]):
            raise denied(f"read {source}.{incoming.field}")
        source_spec = build.objects[source]
        size, offset = page_size(first), offset_of(after)
        tree = filtering.combined(build.objects, source, filter, condition)
        narrow = filtering.narrowing(source, tree, ctx)
        order = ordering.expressions(source_spec, order_by, ctx)
        args_key = (size, offset, repr(tree), repr(order_by))
        return loaders.reverse(
            root,
            source,
            incoming.field,
            ctx,
            source_spec.prop_names,
            size=size,
            offset=offset,
            order=order,
            narrow=narrow,
            args_key=args_key,
        )

    return graphene.Field(
        lambda: build.types[source].connection,
        name=spec.reverse[incoming.name],
        required=True,
        first=graphene.Int(),
        after=graphene.String(),
        filter=graphene.Argument(lambda: build.types[source].filter),
        condition=graphene.Argument(build.json, description="a condition tree"),
        order_by=graphene.List(graphene.NonNull(lambda: build.types[source].order_by)),
        resolver=resolve,
    )


def timeline(spec: ObjectSpec):
    """Changes (with only readable fields), events and flow runs, newest first, batched."""
    key = spec.key

    def resolve(root, info, first=50):
        ctx = info.context
        if not 0 <= first <= MAX_TIMELINE:
            raise api_error("page_size", f"first is 0 to {MAX_TIMELINE}")
        batch = loaders._batch_of(root)
        cache_key = ("timeline", first)
        if cache_key not in batch.cache:
            batch.cache[cache_key] = _timelines(batch.records, key, ctx, first)
        return batch.cache[cache_key].get(root.pk, [])

    return resolve


def _timelines(records, key: str, ctx, first: int) -> dict[int, list[dict]]:
    ids = [r.pk for r in records]
    out: dict[int, list[dict]] = {i: [] for i in ids}
    stored: dict[int, list[RecordChange]] = {}
    for change in RecordChange.objects.filter(record_id__in=ids).order_by("version", "id"):
        stored.setdefault(change.record_id, []).append(change)
    # newest first, as the events below: the sort by time keeps that order among equal times
    changes = [c for rows in with_creations(records, stored).values() for c in reversed(rows)]
    names_of = _usernames({c.actor_id for c in changes} - {None})
    for change in changes:
        hidden = ctx.policy.denied_fields(key, list(change.changes))
        out[change.record_id].append(
            {
                "at": change.at.isoformat(),
                "kind": "change",
                "type": change.action,
                "version": change.version,
                "actor": names_of.get(change.actor_id),
                "changes": {n: v for n, v in change.changes.items() if n not in hidden},
                "payload": None,
            }
        )
    for event in Event.objects.filter(subject_id__in=ids).order_by("-occurred_at", "-id"):
        out[event.subject_id].append(
            {
                "at": event.occurred_at.isoformat(),
                "kind": "event",
                "type": event.type,
                "version": None,
                "actor": None,
                "changes": None,
                "payload": event.payload,
            }
        )
    for entry in _runs(ids):
        out[entry.pop("record_id")].append(entry)
    for record_id, entries in out.items():
        entries.sort(key=lambda e: e["at"], reverse=True)
        out[record_id] = entries[:first]
    return out


def _usernames(ids: set[int]) -> dict[int, str]:
    users = get_user_model().objects.filter(pk__in=ids)
    return {user.pk: user.get_username() for user in users}


_runs_table: list[bool] = []


def _runs(ids: list[int]) -> list[dict]:
    """Flow runs of the records, once the flow runtime and its table exist."""
    try:
        from tessera.flows.models import Run
    except ImportError:
        return []
    if not _runs_table:
        from django.db import connection

        _runs_table.append(Run._meta.db_table in connection.introspection.table_names())
    if not _runs_table[0]:
        return []
    out = []
    for run in Run.objects.filter(subject_id__in=ids).order_by("-id")[: MAX_TIMELINE * len(ids)]:
        out.append(
            {
                "record_id": run.subject_id,
                "at": run.started_at.isoformat(),
                "kind": "run",
                "type": f"{run.flow_kind}:{run.flow_key}",
                "version": run.version,
                "actor": None,
                "changes": None,
                "payload": {"id": run.pk, "status": run.status, "node": run.node},
            }
        )
    return out
