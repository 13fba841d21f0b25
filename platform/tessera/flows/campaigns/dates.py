"""The date-field trigger: a birthday (or any date) comes round on the customer's own day.

A scan (the tick, every ``date_scan_minutes``) picks candidates in SQL by month and day (or
by date, for a one-off date): those whose day, shifted by ``offset_days``, is yesterday,
today or tomorrow in UTC, which covers every time zone. Then, in Python, each candidate's
local date and time in their zone decide: the local day must be the one, and the local time
past ``at``. The occurrence key is the local date (``date:2026-11-02``), so the many scans of
one day enter a customer once, and next year's birthday is a new occurrence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils.dateparse import parse_date, parse_datetime

from tessera.definitions.fields.base import SqlType
from tessera.records.indexes import field_expression
from tessera.records.models import Record

from ..graph import Flow
from . import entering
from .zones import anniversary, parse_time, zone_for

BATCH = 500


def _shifted_days(now: dt.datetime, offset: int) -> list[dt.date]:
    """The field values that may be due somewhere on Earth now (local day - offset)."""
    today = now.astimezone(dt.UTC).date()
    return [today + dt.timedelta(days=d - offset) for d in (-1, 0, 1)]


def _candidates(flow: Flow, field: str, days: list[dt.date], annual: bool) -> Iterator[Record]:
    expr = field_expression(field, SqlType.TEXT)
    if annual:
        keys = {d.strftime("%m-%d") for d in days}
        if "02-28" in keys or "03-01" in keys:
            keys.add("02-29")  # leap-day birthdays are kept on the 28th in other years
        sql, params = f"substr({expr}, 6, 5) IN ({', '.join(['%s'] * len(keys))})", sorted(keys)
    else:
        wide = {d + dt.timedelta(days=k) for d in days for k in (-1, 0, 1)}
        params = sorted(d.isoformat() for d in wide)
        sql = f"substr({expr}, 1, 10) IN ({', '.join(['%s'] * len(params))})"
    query = Record.objects.filter(object_key=flow.object_key).filter(
        RawSQL(sql, params, output_field=BooleanField())
    )
    last = 0
    while True:  # pages by id: the caller writes between pages, no cursor stays open
        page = list(query.filter(pk__gt=last).only("id", "data").order_by("pk")[:BATCH])
        yield from page
        if len(page) < BATCH:
            return
        last = page[-1].pk


def _day_of(value: object, zone) -> dt.date | None:
    if not isinstance(value, str):
        return None
    if len(value) == 10:
        return parse_date(value)
    moment = parse_datetime(value)
    return moment.astimezone(zone).date() if moment else None


def due_occurrences(flow: Flow, now: dt.datetime) -> Iterator[tuple[int, str]]:
    """(customer, ``date:<local day>``) for every customer whose day it is, past ``at``."""
    config = flow.options["trigger"]
    offset, annual = config.get("offset_days", 0), config.get("annual", True)
    at = parse_time(config.get("at", "00:00"))
    for record in _candidates(flow, config["field"], _shifted_days(now, offset), annual):
        zone = zone_for(flow.options, record.data)
        local = now.astimezone(zone)
        value = _day_of(record.data.get(config["field"]), zone)
        if value is None or local.time().replace(tzinfo=None) < at:
            continue
        target = local.date() - dt.timedelta(days=offset)
        if annual:
            hit = value.year <= target.year and anniversary(value, target.year) == target
        else:
            hit = value == target
        if hit:
            yield record.pk, f"date:{local.date().isoformat()}"


def enter_due(flow: Flow, now: dt.datetime) -> int:
    """Enter everyone due now, in batches; returns how many were let in."""
    entered, batch = 0, []
    for occurrence in due_occurrences(flow, now):
        batch.append(occurrence)
        if len(batch) >= BATCH:
            entered += len(entering.enter(flow.key, batch, now=now).entered)
            batch = []
    if batch:
        entered += len(entering.enter(flow.key, batch, now=now).entered)
    return entered
