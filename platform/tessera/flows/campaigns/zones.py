"""A customer's time zone and the local moments campaigns wait for.

"Send at 09:00", "wait until Monday 10:00", "on their birthday", "not during quiet hours"
all mean the customer's own clock: the zone comes from a field of the customer (an IANA
name such as ``Asia/Shanghai``), else the campaign's default, else the site's TIME_ZONE.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Any

from django.conf import settings

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@functools.cache
def available() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_zone(name: Any) -> bool:
    return isinstance(name, str) and name in available()


@functools.lru_cache(maxsize=1024)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def zone_for(options: dict[str, Any], data: dict[str, Any] | None) -> zoneinfo.ZoneInfo:
    """The customer's zone under a campaign's ``time_zone`` options."""
    spec = options.get("time_zone") or {}
    field = spec.get("field")
    value = (data or {}).get(field) if field else None
    if is_zone(value):
        return _zone(value)
    default = spec.get("default")
    return _zone(default if is_zone(default) else settings.TIME_ZONE)


def parse_time(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def at_local(day: dt.date, time: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The instant a local wall-clock time happens on ``day`` (UTC, aware)."""
    return dt.datetime.combine(day, time, tzinfo=zone).astimezone(dt.UTC)


def next_time(
    now: dt.datetime, zone: zoneinfo.ZoneInfo, time: dt.time, weekday: str | None = None
) -> dt.datetime:
    """The first instant from ``now`` on when the local clock shows ``time`` (on ``weekday``)."""
    local = now.astimezone(zone)
    for days in range(0, 8):
        day = local.date() + dt.timedelta(days=days)
        if weekday is not None and WEEKDAYS[day.weekday()] != weekday:
            continue
        moment = at_local(day, time, zone)
        if moment >= now:
            return moment
    raise AssertionError("a weekday recurs within eight days")


def in_window(now: dt.datetime, zone: zoneinfo.ZoneInfo, start: dt.time, end: dt.time) -> bool:
    """Is the local time within [start, end)? A window may span midnight (21:00-08:00)."""
    local = now.astimezone(zone).time().replace(tzinfo=None)
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def window_end(now: dt.datetime, zone: zoneinfo.ZoneInfo, end: dt.time) -> dt.datetime:
    """When a window that ``now`` is in ends: the next local ``end`` after now."""
    return next_time(now, zone, end)


def anniversary(value: dt.date, year: int) -> dt.date:
    """The date's anniversary in ``year``; 29 February falls on the 28th in other years."""
    try:
        return value.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)
