"""Business calendars: publish refusals by path, business-time arithmetic, properties.

Every datetime is checked in UTC; the calendars live in Berlin (DST), Shanghai (lunch break,
Saturdays, a week of holidays) and New York (night shifts across DST changes).
"""

from __future__ import annotations

import copy
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed
from tessera.timers import service as timers
from tessera.timers.calendars import (
    BusinessCalendar,
    CalendarNeverOpens,
    UnknownCalendar,
    calendar_for,
    deadline,
)
from tessera.timers.models import Timer
from tests.timers.conftest import BERLIN, NEW_YORK_NIGHTS, SHANGHAI

BER, SHA, NYC = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")
H = dt.timedelta(hours=1)


def at(zone: ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


berlin = BusinessCalendar.from_body(BERLIN)
shanghai = BusinessCalendar.from_body(SHANGHAI)
nights = BusinessCalendar.from_body(NEW_YORK_NIGHTS)


# --- publishing ------------------------------------------------------------------------


def refusal(body) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as refused:
        definitions.save_and_publish("calendar", "support", body)
    return [(e.path, e.code) for e in refused.value.errors]


def test_a_calendar_publishes_and_is_found_by_key(db):
    definitions.save_and_publish("calendar", "berlin", copy.deepcopy(BERLIN))
    assert calendar_for("berlin") == BusinessCalendar.from_body(BERLIN, key="berlin")
    assert calendar_for("berlin") is calendar_for("berlin")  # compiled once per revision
    with pytest.raises(UnknownCalendar, match="no published calendar 'nowhere'"):
        calendar_for("nowhere")
    assert calendar_for(None).is_open(utc(2024, 12, 25, 3))  # None: always open


def test_publish_refuses_a_wrong_calendar_with_the_paths(db):
    body = {
        "timezone": "Europe/Atlantis",
        "hours": {
            "mon": [["09:00", "25:00"], ["24:00", "24:00"]],
            "tue": [["18:00", "09:00"]],
            "wed": [["09:00", "18:00"], ["12:00", "13:00"], ["17:00", "19:00"]],
            "thu": [["08:60", "10:00"]],
            "fri": [["09:00", "12:00"], ["12:00", "24:00"]],  # touching is fine; 24:00 ends a day
        },
        "holidays": ["2024-02-30", "2024-05-01"],
    }
    assert refusal(body) == [
        ("$.timezone", "unknown_timezone"),
        ("$.hours.mon[0][1]", "invalid_time"),
        ("$.hours.mon[1][0]", "invalid_time"),
        ("$.hours.tue[0]", "empty_range"),
        ("$.hours.wed[1]", "overlap"),
        ("$.hours.wed[2]", "overlap"),
        ("$.hours.thu[0][0]", "invalid_time"),
        ("$.holidays[0]", "invalid_date"),
    ]
    assert refusal({"timezone": "UTC", "hours": {"sat": [], "sun": []}}) == [
        ("$.hours", "no_working_hours")
    ]
    # the meta-schema's own refusals come with paths too
    assert refusal({"timezone": "UTC", "hours": {"mon": [["9:00", "18:00"]], "xyz": []}}) == [
        ("$.hours.mon[0][0]", "pattern"),
        ("$.hours.xyz", "property_name"),
    ]
    assert not definitions.versions("calendar", "support")


def test_the_messages_say_what_is_wrong():
    with pytest.raises(ValidationFailed) as refused:
        BusinessCalendar.from_body(
            {"timezone": "Mars/Olympus", "hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}
        )
    messages = [str(e) for e in refused.value.errors]
    assert messages == [
        "$.timezone: 'Mars/Olympus' is not a time zone of the IANA database, such as "
        "Asia/Shanghai [unknown_timezone]",
        "$.hours.mon[1]: overlaps mon[0] (which ends at 12:00) [overlap]",
    ]


# --- arithmetic ------------------------------------------------------------------------


def test_working_hours_across_a_weekend_two_holidays_and_the_spring_dst_change():
    """Thursday 16:00 CET before Easter; Good Friday and Easter Monday are holidays and summer
    time starts on the Sunday between: eight working hours end on Tuesday at 15:00 CEST."""
    start = at(BER, 2024, 3, 28, 16)  # 15:00 UTC
    due = berlin.add(start, "PT8H")
    assert due == utc(2024, 4, 2, 13)  # 15:00 CEST; counting hours in UTC would say 14:00
    assert due.tzinfo is dt.UTC
    assert berlin.working_time(start, due) == 8 * H
    assert berlin.add(start, "PT2H") == utc(2024, 3, 28, 17)  # closing time, the same day
    assert berlin.add(start, "PT2H1S") == utc(2024, 4, 2, 7, 0, 1)  # 09:00:01 CEST
    assert not berlin.is_open(at(BER, 2024, 3, 29, 12))  # Good Friday
    assert not berlin.is_open(at(BER, 2024, 4, 1, 12))  # Easter Monday
    assert berlin.is_open(at(BER, 2024, 4, 2, 9)) and not berlin.is_open(at(BER, 2024, 4, 2, 8))


def test_working_days_keep_the_clock_time():
    thursday = at(BER, 2024, 3, 28, 16)
    assert berlin.add(thursday, "P1D") == at(BER, 2024, 4, 2, 16)  # skips 4 closed days
    assert berlin.add(thursday, "P2D") == at(BER, 2024, 4, 3, 16)
    assert berlin.add(thursday, "P1DT3H") == at(BER, 2024, 4, 3, 10)  # 16→18, then 09→10
    # a start outside the hours counts from the next opening
    assert berlin.add(at(BER, 2024, 5, 4, 10), "P1D") == at(BER, 2024, 5, 7, 9)  # Sat → Tue
    assert berlin.add(at(BER, 2024, 5, 6, 19), "PT1H") == at(BER, 2024, 5, 7, 10)
    # on a shorter day the same clock time is past closing: that day's closing
    assert shanghai.add(at(SHA, 2024, 5, 9, 17, 30), "P1D") == at(SHA, 2024, 5, 10, 17)
    # Saturday opens at 10:00: an earlier clock time lands on the opening
    assert shanghai.add(at(SHA, 2024, 5, 10, 9, 15), "P1D") == at(SHA, 2024, 5, 11, 10)
    # in the lunch break: the morning's closing, never later than the clock time
    assert shanghai.add(at(SHA, 2024, 5, 10, 11, 0), "P1D") == at(SHA, 2024, 5, 11, 11)
    assert shanghai.add(at(SHA, 2024, 5, 11, 15, 30), "P1D") == at(SHA, 2024, 5, 13, 15, 30)


def test_weeks_months_and_years_are_calendar_units():
    assert berlin.add(at(BER, 2024, 3, 21, 16), "P1W") == at(BER, 2024, 3, 28, 16)
    # a week after Good Friday's eve lands on the Thursday after Easter, summer time
    assert berlin.add(at(BER, 2024, 3, 28, 16), "P1W") == at(BER, 2024, 4, 4, 16)
    # a month after 25 November is Christmas: the next opening is the 27th
    assert berlin.add(at(BER, 2024, 11, 25, 10), "P1M") == at(BER, 2024, 12, 27, 9)
    assert berlin.add(at(BER, 2024, 5, 6, 10), "P1Y") == at(BER, 2025, 5, 6, 10)


def test_the_national_day_week_and_the_lunch_break():
    monday = at(SHA, 2024, 9, 30, 17)
    assert shanghai.add(monday, "PT2H") == at(SHA, 2024, 10, 8, 10)  # 1 h, a week off, 1 h
    assert shanghai.working_time(monday, at(SHA, 2024, 10, 8, 10)) == 2 * H
    assert shanghai.add(at(SHA, 2024, 5, 6, 11), "PT2H") == at(SHA, 2024, 5, 6, 14)
    assert shanghai.add(at(SHA, 2024, 5, 6, 12, 30), "PT0S") == at(SHA, 2024, 5, 6, 13)


def test_night_shifts_across_both_dst_changes_count_real_hours():
    """The nights of 10 March and 3 November 2024 are 23 and 25 hours long in New York."""
    assert nights.working_time(at(NYC, 2024, 3, 9, 0), at(NYC, 2024, 3, 11, 0)) == 47 * H
    assert nights.working_time(at(NYC, 2024, 11, 2, 0), at(NYC, 2024, 11, 4, 0)) == 49 * H
    assert nights.add(at(NYC, 2024, 3, 10, 1), "PT2H") == at(NYC, 2024, 3, 10, 4)
    assert nights.add(at(NYC, 2024, 11, 3, 0), "PT2H") == utc(2024, 11, 3, 6)  # 01:00 EST
    assert nights.add(at(NYC, 2024, 7, 3, 23), "PT2H") == at(NYC, 2024, 7, 5, 1)  # 4 July


def test_datetimes_in_are_aware_and_durations_are_iso():
    with pytest.raises(ValueError, match="aware"):
        berlin.add(dt.datetime(2024, 5, 6, 9), "PT1H")
    with pytest.raises(ValueError, match="ISO 8601"):
        berlin.add(utc(2024, 5, 6, 9), "8 hours")
    with pytest.raises(ValueError, match="negative"):
        berlin.add(utc(2024, 5, 6, 9), -H)
    assert berlin.add(at(BER, 2024, 5, 6, 9), dt.timedelta(minutes=90)) == at(
        BER, 2024, 5, 6, 10, 30
    )
    assert berlin.working_time(at(BER, 2024, 5, 7, 9), at(BER, 2024, 5, 6, 9)) == -9 * H


def test_a_calendar_whose_working_days_are_all_holidays_says_so():
    only = BusinessCalendar.from_body(
        {"timezone": "UTC", "hours": {"mon": [["09:00", "10:00"]]}, "holidays": ["2024-05-06"]}
    )
    assert only.add(utc(2024, 5, 6, 0), "PT1H") == utc(2024, 5, 13, 10)
    forever = BusinessCalendar(only.zone, only.hours, frozenset(), None)
    stuck = BusinessCalendar(
        only.zone,
        only.hours,
        frozenset(dt.date(2024, 5, 13) + dt.timedelta(weeks=n) for n in range(600)),
        "stuck",
    )
    assert forever.is_open(utc(2030, 1, 7, 9, 30))
    with pytest.raises(CalendarNeverOpens):
        stuck.add(utc(2024, 5, 7), "PT1H")


def test_deadline_in_business_or_calendar_time(db):
    definitions.save_and_publish("calendar", "berlin", copy.deepcopy(BERLIN))
    start = at(BER, 2024, 3, 28, 16)
    assert deadline(start, "PT8H", calendar="berlin") == utc(2024, 4, 2, 13)
    assert deadline(start, "P1D", calendar="berlin", business_hours=False) == at(
        BER, 2024, 3, 29, 16
    )
    # a wall-clock day across the DST change is 23 hours; hours are elapsed time
    assert deadline(start, "P3D", calendar="berlin", business_hours=False) == at(
        BER, 2024, 3, 31, 16
    )
    assert deadline(start, "PT72H", calendar="berlin", business_hours=False) == at(
        BER, 2024, 3, 31, 17
    )
    # no calendar: around the clock in UTC
    assert deadline(start, "PT30H", calendar=None) == start + 30 * H
    assert deadline(start, "P1D", calendar=None) == start + 24 * H
    with pytest.raises(UnknownCalendar):
        deadline(start, "PT1H", calendar="missing")


def test_an_sla_timer_fires_at_the_business_deadline_on_a_frozen_clock(db, recorder, clock):
    """Scheduled on Thursday 16:00 before Easter for eight working hours; the clock moves
    through Good Friday, the weekend with its DST change and Easter Monday: nothing fires
    until Tuesday 15:00 CEST."""
    definitions.save_and_publish("calendar", "berlin", copy.deepcopy(BERLIN))
    from django.utils import timezone

    clock(at(BER, 2024, 3, 28, 16))
    due = deadline(timezone.now(), "PT8H", calendar="berlin")
    timers.schedule("test.record", due, owner="ticket:7", payload={"sla": "resolve"})

    for moment in [
        at(BER, 2024, 3, 28, 23, 59),
        at(BER, 2024, 3, 29, 16),  # Good Friday
        at(BER, 2024, 3, 31, 3, 30),  # just after the clocks went forward
        at(BER, 2024, 4, 1, 16),  # Easter Monday
        at(BER, 2024, 4, 2, 14, 59, 59),
    ]:
        clock(moment)
        assert timers.fire_due() == 0, moment
    clock(at(BER, 2024, 4, 2, 15))
    assert timers.fire_due() == 1
    assert recorder.owners() == ["ticket:7"]
    assert not Timer.objects.exists()


# --- properties ------------------------------------------------------------------------

CALENDARS = st.sampled_from([berlin, shanghai, nights, BusinessCalendar.always_open()])
INSTANTS = st.datetimes(
    min_value=dt.datetime(2023, 1, 1),
    max_value=dt.datetime(2026, 12, 31),
    timezones=st.just(dt.UTC),
)
SPANS = st.integers(min_value=0, max_value=60 * 24 * 20).map(lambda m: dt.timedelta(minutes=m))


@settings(max_examples=300, deadline=None)
@given(calendar=CALENDARS, start=INSTANTS, span=SPANS)
def test_adding_working_time_then_measuring_it_gives_it_back(calendar, start, span):
    opening = calendar.next_opening(start)
    end = calendar.add(opening, span)
    assert calendar.working_time(opening, end) == span
    # from any start, not only an opening: closed time before the opening counts for nothing
    assert calendar.add(start, span) == end
    assert calendar.working_time(start, end) == span
    if span:
        assert calendar.is_open(end - dt.timedelta(microseconds=1))  # ends inside the hours


@settings(max_examples=200, deadline=None)
@given(calendar=CALENDARS, start=INSTANTS, a=SPANS, b=SPANS)
def test_more_working_time_never_ends_earlier(calendar, start, a, b):
    low, high = sorted((a, b))
    assert calendar.add(start, low) <= calendar.add(start, high)
    # adding in two steps is adding once (a zero second step would move a deadline that
    # fell on a closing time to the next opening: PT0S counts from an opening too)
    if high > low:
        assert calendar.add(calendar.add(start, low), high - low) == calendar.add(start, high)


@settings(max_examples=200, deadline=None)
@given(calendar=CALENDARS, start=INSTANTS, days=st.integers(min_value=1, max_value=30))
def test_working_days_land_on_the_nth_working_day(calendar, start, days):
    opening = calendar.next_opening(start)
    end = calendar.add(start, f"P{days}D")
    day = opening.astimezone(calendar.zone).date()
    working = []
    while len(working) < days:
        day += dt.timedelta(days=1)
        if calendar.spans(day):
            working.append(day)
    assert any(a <= end <= b for a, b in calendar.spans(working[-1]))
