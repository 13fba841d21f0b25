"""Business calendars: when a team works, so that SLA deadlines count only working time.

A calendar is a definition of kind ``calendar`` (its meta-schema is in the definitions
layer): a time zone, opening hours per weekday, holidays, and make-up working days (dates
that work with a weekday's hours, as China's 调休 Saturdays and Sundays do). Arithmetic
happens in the calendar's time zone, so a DST change moves the hours with the wall clock;
datetimes go in aware and come out in UTC.

How a duration counts in business time (docs/calendars.md says the same with examples):

- ``H``/``M``/``S`` (after ``T``) are working time: ``PT8H`` is eight open hours, skipping
  nights, weekends and holidays.
- ``D`` is working days: ``P2D`` is the same clock time on the second working day after, or
  that day's nearest open time before it (its opening if the time is earlier, its closing if
  later): "by the same time in two working days".
- ``Y``/``M``/``W`` are calendar units: ``P1W`` is the same weekday and time a week later,
  or the next opening if that moment is closed.
- A start outside the hours counts from the next opening. Units apply largest first.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dateutil.relativedelta import relativedelta

from tessera.definitions.cache import RevisionCache, published
from tessera.definitions.durations import parse_duration
from tessera.definitions.errors import FieldError, ValidationFailed, json_path
from tessera.definitions.kinds import KindHandler
from tessera.definitions.meta import meta_errors

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
# A calendar that stays closed this long is treated as never opening again (all of its
# working days are holidays): an error, not an endless search.
MAX_CLOSED_DAYS = 366 * 10
TIME = re.compile(r"(\d{2}):(\d{2})")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
UNIT = re.compile(r"(\d+)([YMWDHS])")

Span = tuple[dt.datetime, dt.datetime]


class UnknownCalendar(LookupError):
    """A deadline names a calendar that is not published."""


class CalendarNeverOpens(ValueError):
    """No working time is left in the calendar (every remaining working day is a holiday)."""


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _minutes(text: str, *, end: bool) -> int | None:
    """``"09:30"`` → 570; ``"24:00"`` only as the end of a range; None if not a time."""
    match = TIME.fullmatch(text)
    if not match:
        return None
    hours, minutes = int(match[1]), int(match[2])
    if end and (hours, minutes) == (24, 0):
        return DAY_MINUTES
    if hours > 23 or minutes > 59:
        return None
    return hours * 60 + minutes


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _holiday(text: str) -> dt.date | None:
    if not DATE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def calendar_errors(body: dict[str, Any]) -> list[FieldError]:
    """What the meta-schema cannot say: real zones and times, ranges in order, some hours."""
    errors: list[FieldError] = []
    zone = body.get("timezone")
    if zone not in _zone_names():
        errors.append(
            FieldError(
                "$.timezone",
                "unknown_timezone",
                f"{zone!r} is not a time zone of the IANA database, such as Asia/Shanghai",
            )
        )
    any_hours, range_errors = False, False
    for day, ranges in body.get("hours", {}).items():
        valid: list[tuple[int, int, int]] = []
        for i, (start_text, end_text) in enumerate(ranges):
            start = _minutes(start_text, end=False)
            end = _minutes(end_text, end=True)
            checks = ((0, start_text, start, "23:59"), (1, end_text, end, "24:00"))
            for j, text, value, top in checks:
                if value is None:
                    errors.append(
                        FieldError(
                            json_path(["hours", day, i, j]),
                            "invalid_time",
                            f"{text!r} is not a time of day (00:00 to {top})",
                        )
                    )
            if start is None or end is None:
                range_errors = True
                continue
            if start >= end:
                range_errors = True
                errors.append(
                    FieldError(
                        json_path(["hours", day, i]),
                        "empty_range",
                        f"a range starts before it ends: {start_text} is not before {end_text} "
                        "(split a range that crosses midnight at 24:00)",
                    )
                )
                continue
            valid.append((start, end, i))
        valid.sort()
        reach, reach_i = -1, -1  # the latest end so far, and its range
        for start, end, i in valid:
            if start < reach:
                range_errors = True
                errors.append(
                    FieldError(
                        json_path(["hours", day, i]),
                        "overlap",
                        f"overlaps {day}[{reach_i}] (which ends at {_clock(reach)})",
                    )
                )
            if end > reach:
                reach, reach_i = end, i
        any_hours = any_hours or bool(valid)
    if not any_hours and not range_errors:
        errors.append(
            FieldError("$.hours", "no_working_hours", "the calendar has no working hours at all")
        )
    for i, text in enumerate(body.get("holidays", [])):
        if _holiday(text) is None:
            errors.append(
                FieldError(
                    json_path(["holidays", i]), "invalid_date", f"{text!r} is not a date YYYY-MM-DD"
                )
            )
    errors += _working_day_errors(body)
    return errors


def _working_day_errors(body: dict[str, Any]) -> list[FieldError]:
    """Make-up working days: real dates, not also holidays, keeping a weekday that has hours."""
    errors: list[FieldError] = []
    holidays = {_holiday(text) for text in body.get("holidays", [])}
    hours = body.get("hours", {})
    for text, weekday in body.get("working_days", {}).items():
        path = json_path(["working_days", text])
        day = _holiday(text)
        if day is None:
            errors.append(FieldError(path, "invalid_date", f"{text!r} is not a date YYYY-MM-DD"))
        elif day in holidays:
            message = f"{text} is listed as a holiday too: it cannot be both"
            errors.append(FieldError(path, "holiday_and_working_day", message))
        if weekday in WEEKDAYS and not hours.get(weekday):
            message = f"{text} keeps the hours of {weekday}, which has none"
            errors.append(FieldError(path, "no_hours", message))
    return errors


def check_calendar(body: dict[str, Any], key: str) -> list[FieldError]:
    return calendar_errors(body)


CALENDAR_KIND = KindHandler(type="calendar", check=check_calendar)


def _aware(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")
    return value.astimezone(dt.UTC)


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration split the way business time counts it."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    time: dt.timedelta = dt.timedelta(0)

    @classmethod
    def parse(cls, value: str | dt.timedelta) -> Duration:
        """``"P1DT4H"`` or a timedelta (working time); ValueError for anything else.

        Not through relativedelta: it turns ``PT30H`` into one day and six hours, and a
        working day is not 24 hours.
        """
        if isinstance(value, dt.timedelta):
            if value < dt.timedelta(0):
                raise ValueError(f"a duration is not negative: {value}")
            return cls(time=value)
        parse_duration(value)  # refuses anything that is not ISO 8601
        date_part, _, time_part = value[1:].partition("T")
        date_units = {unit: int(n) for n, unit in UNIT.findall(date_part)}
        time_units = {unit: int(n) for n, unit in UNIT.findall(time_part)}
        return cls(
            years=date_units.get("Y", 0),
            months=date_units.get("M", 0),
            weeks=date_units.get("W", 0),
            days=date_units.get("D", 0),
            time=dt.timedelta(
                hours=time_units.get("H", 0),
                minutes=time_units.get("M", 0),
                seconds=time_units.get("S", 0),
            ),
        )


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours per weekday and holidays in one time zone; all arithmetic on them."""

    zone: zoneinfo.ZoneInfo
    # per weekday, Monday first: sorted (start, end) in minutes after local midnight
    hours: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[dt.date] = frozenset()
    key: str | None = None
    # make-up working days: (date, weekday index whose hours that date keeps)
    working_days: tuple[tuple[dt.date, int], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hours_of", dict(self.working_days))

    @classmethod
    def from_body(cls, body: dict[str, Any], *, key: str | None = None) -> BusinessCalendar:
        """A calendar from a definition body; ValidationFailed (with paths) if it is wrong."""
        errors = meta_errors("calendar", body) or calendar_errors(body)
        if errors:
            raise ValidationFailed(errors)
        hours = tuple(
            tuple(
                sorted(
                    (_minutes(start, end=False), _minutes(end, end=True))  # type: ignore[misc]
                    for start, end in body["hours"].get(day, [])
                )
            )
            for day in WEEKDAYS
        )
        holidays = frozenset(_holiday(text) for text in body.get("holidays", []))
        working_days = tuple(
            sorted(
                (_holiday(text), WEEKDAYS.index(weekday))
                for text, weekday in body.get("working_days", {}).items()
            )
        )
        zone = zoneinfo.ZoneInfo(body["timezone"])
        return cls(zone, hours, holidays, key, working_days)  # type: ignore[arg-type]

    @classmethod
    def always_open(cls) -> BusinessCalendar:
        """24x7 in UTC: business time is plain elapsed time."""
        return cls(zoneinfo.ZoneInfo("UTC"), (((0, DAY_MINUTES),),) * 7, frozenset(), None)

    # --- the open spans of a day, in UTC -------------------------------------------------

    def _local(self, day: dt.date, minutes: int) -> dt.datetime:
        """A wall-clock time on ``day`` in UTC. In a DST gap the earlier offset applies
        (PEP 495's fold=0), so a range in the gap has no length and counts for nothing."""
        if minutes == DAY_MINUTES:
            day, minutes = day + dt.timedelta(days=1), 0
        wall = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=self.zone)
        return wall.astimezone(dt.UTC)

    def spans(self, day: dt.date) -> list[Span]:
        """The open spans of a local date, in UTC, earliest first (none on a holiday).

        A make-up working day keeps the hours of the weekday it names instead of its own.
        """
        if day in self.holidays:
            return []
        found = []
        for start, end in self.hours[self._hours_of.get(day, day.weekday())]:
            a, b = self._local(day, start), self._local(day, end)
            if b > a:
                found.append((a, b))
        return found

    def _spans_from(self, start: dt.datetime) -> Iterator[Span]:
        """Open spans that end after ``start``, clipped to begin no earlier than it."""
        day = start.astimezone(self.zone).date()
        closed = 0
        while True:
            spans = self.spans(day)
            for a, b in spans:
                if b > start:
                    yield max(a, start), b
            closed = 0 if spans else closed + 1
            if closed > MAX_CLOSED_DAYS:
                raise CalendarNeverOpens(
                    f"calendar {self.key or ''!s} has no working time after {start.isoformat()}"
                )
            day += dt.timedelta(days=1)

    # --- questions --------------------------------------------------------------------

    def is_open(self, at: dt.datetime) -> bool:
        at = _aware(at, "at")
        day = at.astimezone(self.zone).date()
        return any(a <= at < b for a, b in self.spans(day))

    def next_opening(self, at: dt.datetime) -> dt.datetime:
        """``at`` itself when open, else the next moment the calendar opens (UTC)."""
        at = _aware(at, "at")
        return next(self._spans_from(at))[0]

    def working_time(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Open time between two instants (negative if ``end`` is before ``start``)."""
        start, end = _aware(start, "start"), _aware(end, "end")
        if end < start:
            return -self.working_time(end, start)
        total = dt.timedelta(0)
        day, last = start.astimezone(self.zone).date(), end.astimezone(self.zone).date()
        while day <= last:
            for a, b in self.spans(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += hi - lo
            day += dt.timedelta(days=1)
        return total

    # --- arithmetic -------------------------------------------------------------------

    def add(self, start: dt.datetime, duration: str | dt.timedelta) -> dt.datetime:
        """``start`` plus a duration in business time (see the module docstring), in UTC."""
        parts = Duration.parse(duration)
        moment = self.next_opening(_aware(start, "start"))
        if parts.years or parts.months or parts.weeks:
            wall = moment.astimezone(self.zone).replace(tzinfo=None) + relativedelta(
                years=parts.years, months=parts.months, weeks=parts.weeks
            )
            moment = self.next_opening(wall.replace(tzinfo=self.zone))
        if parts.days:
            moment = self._add_days(moment, parts.days)
        if parts.time:
            moment = self._add_time(moment, parts.time)
        return moment

    def add_calendar_time(self, start: dt.datetime, duration: str | dt.timedelta) -> dt.datetime:
        """Plain calendar arithmetic in the calendar's zone, ignoring hours and holidays.

        Years to days move the wall clock (P1D across a DST change is 23 or 25 hours);
        hours, minutes and seconds are elapsed time.
        """
        parts = Duration.parse(duration)
        wall = _aware(start, "start").astimezone(self.zone).replace(tzinfo=None)
        wall += relativedelta(
            years=parts.years, months=parts.months, weeks=parts.weeks, days=parts.days
        )
        return wall.replace(tzinfo=self.zone).astimezone(dt.UTC) + parts.time

    def _add_days(self, moment: dt.datetime, days: int) -> dt.datetime:
        local = moment.astimezone(self.zone)
        clock, day = local.time().replace(tzinfo=None), local.date()
        spans: list[Span] = []
        closed = 0
        while days:
            day += dt.timedelta(days=1)
            spans = self.spans(day)
            if spans:
                days -= 1
                closed = 0
            else:
                closed += 1
                if closed > MAX_CLOSED_DAYS:
                    raise CalendarNeverOpens(f"calendar {self.key or ''} has no working day left")
        wanted = dt.datetime.combine(day, clock, tzinfo=self.zone).astimezone(dt.UTC)
        if wanted < spans[0][0]:
            return spans[0][0]
        if any(a <= wanted < b for a, b in spans):
            return wanted
        return max(b for _, b in spans if b <= wanted)

    def _add_time(self, moment: dt.datetime, amount: dt.timedelta) -> dt.datetime:
        remaining = amount
        for a, b in self._spans_from(moment):
            if remaining <= b - a:
                return a + remaining
            remaining -= b - a
        raise AssertionError("unreachable: _spans_from never ends")  # pragma: no cover


ALWAYS_OPEN = BusinessCalendar.always_open()
_compiled = RevisionCache()


def calendar_for(key: str | None) -> BusinessCalendar:
    """The published calendar ``key`` (cached until the next publish); None is 24x7."""
    if key is None:
        return ALWAYS_OPEN

    def compile_calendar() -> BusinessCalendar | None:
        found = published("calendar", key) if isinstance(key, str) else None
        return None if found is None else BusinessCalendar.from_body(found.body, key=key)

    calendar = _compiled.get(("calendar", key), compile_calendar) if isinstance(key, str) else None
    if calendar is None:
        raise UnknownCalendar(f"no published calendar {key!r}")
    return calendar


def deadline(
    start: dt.datetime, within: str, *, calendar: str | None, business_hours: bool = True
) -> dt.datetime:
    """When something started at ``start`` is due ``within`` an ISO 8601 duration (UTC).

    In business time of ``calendar`` (None: 24x7), or in plain calendar time of its zone
    with ``business_hours=False``.
    """
    found = calendar_for(calendar)
    return found.add(start, within) if business_hours else found.add_calendar_time(start, within)
