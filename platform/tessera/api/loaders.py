"""Batched loading of related records: the same number of queries whatever the page size.

Every list of records the API returns is a *batch*: each record carries it. When a nested
field of one record asks for its related records, the loader fetches them for every record
of the batch in one query and keeps the answers on the batch, so its siblings find theirs
ready. The records that come back form the next batch, so each level of a nested query
costs one query. A reverse relation's page (``orders(first: 5)``) is one query with a
window function: the rows of every parent, numbered per parent, with each parent's total.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import Count, F, Q, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber

from tessera.definitions.fields.base import SqlType
from tessera.records.indexes import field_expression
from tessera.records.models import Record

from .pages import Page

DENIED = type("Denied", (), {"__repr__": lambda self: "<denied>"})()


class Batch:
    """Records fetched together, and what has been loaded for all of them."""

    __slots__ = ("cache", "records")

    def __init__(self, records: Sequence[Record]):
        self.records = records
        self.cache: dict[Any, Any] = {}


def attach(records: list[Record], object_key: str, ctx, field_names: Sequence[str]) -> list[Record]:
    """Make ``records`` one batch and hide the fields this person may not read."""
    batch = Batch(records)
    denied = ctx.policy.denied_fields(object_key, list(field_names))
    hidden = dict.fromkeys(denied, DENIED)
    for record in records:
        record._batch = batch
        if hidden:
            record.data = {**record.data, **hidden}
    return records


def _batch_of(record: Record) -> Batch:
    batch = getattr(record, "_batch", None)
    if batch is None:
        batch = Batch([record])
        record._batch = batch
    return batch


def forward(
    record: Record, field: str, target: str, ctx, names: Sequence[str]
) -> dict[int, Record]:
    """The ``target`` records the batch points at through ``field``, by id, in one query."""
    batch = _batch_of(record)
    key = ("forward", field)
    if key not in batch.cache:
        ctx.check_deadline()
        ids: set[int] = set()
        for sibling in batch.records:
            value = sibling.data.get(field)
            if isinstance(value, list):
                ids.update(v for v in value if isinstance(v, int))
            elif isinstance(value, int) and not isinstance(value, bool):
                ids.add(value)
        found: list[Record] = []
        if ids and ctx.policy.can(target, "read"):
            qs = ctx.policy.rows(target, Record.objects.filter(object_key=target, pk__in=ids))
            found = attach(list(qs), target, ctx, names)
        batch.cache[key] = {r.pk: r for r in found}
    return batch.cache[key]


def reverse(
    record: Record,
    source: str,
    field: str,
    ctx,
    names: Sequence[str],
    *,
    size: int,
    offset: int,
    order: list[tuple[Any, bool]],
    narrow: Callable[[Any], Any] | None,
    args_key: Any,
) -> Page:
    """One parent's page of the ``source`` records pointing at it through ``field``."""
    batch = _batch_of(record)
    key = ("reverse", source, field, args_key)
    if key not in batch.cache:
        ctx.check_deadline()
        batch.cache[key] = _reverse_pages(
            batch, source, field, ctx, names, size, offset, order, narrow
        )
    pages = batch.cache[key]
    return pages.get(record.pk) or Page([], offset, False, 0)


def _reverse_pages(batch, source, field, ctx, names, size, offset, order, narrow):
    parents = [r.pk for r in batch.records]
    link = RawSQL(field_expression(field, SqlType.NUMBER), [])
    qs = Record.objects.filter(object_key=source).annotate(_parent=link).filter(_parent__in=parents)
    qs = ctx.policy.rows(source, qs)
    if narrow is not None:
        qs = narrow(qs)
    ordering = [(e.desc(nulls_last=True) if desc else e.asc(nulls_last=True)) for e, desc in order]
    ordering.append(F("id").asc())
    qs = qs.annotate(
        _n=Window(RowNumber(), partition_by=[link], order_by=ordering),
        _total=Window(Count("id"), partition_by=[link]),
    )
    window = Q(_n__gt=offset, _n__lte=offset + size + 1)
    if offset:
        window |= Q(_n=1)  # each parent's first row, for its total when the page is past it
    rows = list(qs.filter(window).order_by("_parent", "_n"))
    per_parent: dict[int, list[Record]] = {}
    totals: dict[int, int] = {}
    for row in rows:
        parent = int(row._parent)
        totals[parent] = row._total
        if row._n > offset:
            per_parent.setdefault(parent, []).append(row)
    attach([r for items in per_parent.values() for r in items], source, ctx, names)
    return {
        parent: Page(
            per_parent.get(parent, [])[:size], offset, len(per_parent.get(parent, [])) > size, total
        )
        for parent, total in totals.items()
    }
