"""Limits across all campaigns, per channel: frequency caps, quiet hours, a global send rate.

An operator sets them once per channel (``set_limits`` or the Django admin); every send node
of every campaign asks here before it sends. A send that may not go now is *deferred*: the
run waits at the send node on a durable timer until the limit lets it through (quiet hours
end, the oldest counted message leaves the cap's window, a minute with room in the rate).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.db.models import F

from tessera.definitions.durations import parse_duration
from tessera.definitions.errors import FieldError, ValidationFailed

from .models import ChannelLimit, Message, MessageStatus, SendWindow
from .zones import in_window, parse_time, window_end

# How far ahead the rate looks for a minute with room before it gives up for now.
RATE_HORIZON_MINUTES = 24 * 60
COUNTED = (MessageStatus.QUEUED, MessageStatus.SENT)


@dataclass(frozen=True)
class Limits:
    """One channel's limits, parsed."""

    cap_count: int | None = None
    cap_period: relativedelta | None = None
    quiet: tuple[dt.time, dt.time] | None = None
    rate_per_minute: int | None = None


def limits_for(channel: str) -> Limits:
    row = ChannelLimit.objects.filter(channel=channel).first()
    if row is None:
        return Limits()
    period = parse_duration(row.cap_period) if row.cap_count and row.cap_period else None
    quiet = (row.quiet_start, row.quiet_end) if row.quiet_start and row.quiet_end else None
    if quiet and quiet[0] == quiet[1]:
        quiet = None
    return Limits(row.cap_count if period else None, period, quiet, row.rate_per_minute or None)


def set_limits(
    channel: str,
    *,
    cap: int | None = None,
    per: str | None = None,
    quiet_hours: tuple[str, str] | None = None,
    rate_per_minute: int | None = None,
) -> ChannelLimit:
    """Set (replace) a channel's limits; ValidationFailed names the bad argument."""
    errors: list[FieldError] = []
    if (cap is None) != (per is None):
        errors.append(FieldError("$.cap", "incomplete", "a cap is a count and a period (per)"))
    if cap is not None and (not isinstance(cap, int) or cap < 1):
        errors.append(FieldError("$.cap", "invalid", "a cap is a whole number from 1"))
    if per is not None:
        try:
            parse_duration(per)
        except ValueError as exc:
            errors.append(FieldError("$.per", "duration", str(exc)))
    times: list[dt.time] = []
    if quiet_hours is not None:
        try:
            times = [parse_time(t) for t in quiet_hours]
            if len(times) != 2:
                raise ValueError
        except (ValueError, AttributeError, TypeError):
            errors.append(FieldError("$.quiet_hours", "invalid", "quiet hours are [HH:MM, HH:MM]"))
    if rate_per_minute is not None and (
        not isinstance(rate_per_minute, int) or rate_per_minute < 1
    ):
        errors.append(FieldError("$.rate_per_minute", "invalid", "a whole number from 1"))
    if errors:
        raise ValidationFailed(errors)
    row, _ = ChannelLimit.objects.update_or_create(
        channel=channel,
        defaults={
            "cap_count": cap,
            "cap_period": per or "",
            "quiet_start": times[0] if times else None,
            "quiet_end": times[1] if times else None,
            "rate_per_minute": rate_per_minute,
        },
    )
    return row


def quiet_until(limits: Limits, now: dt.datetime, zone: Any) -> dt.datetime | None:
    """When quiet hours end, if the customer's local time is inside them now."""
    if limits.quiet is None or not in_window(now, zone, *limits.quiet):
        return None
    return window_end(now, zone, limits.quiet[1])


def cap_until(
    limits: Limits, subject_id: int, channel: str, now: dt.datetime
) -> dt.datetime | None:
    """When the customer has room under the cap again, if they have none now.

    Counts marketing messages of the channel queued or sent in the window, from every
    campaign. The caller holds the customer's row lock, so two campaigns cannot both see
    the last free place.
    """
    if limits.cap_count is None or limits.cap_period is None:
        return None
    since = now - limits.cap_period
    recent = list(
        Message.objects.filter(
            subject_id=subject_id,
            channel=channel,
            marketing=True,
            status__in=COUNTED,
            created_at__gt=since,
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)[: limits.cap_count]
    )
    if len(recent) < limits.cap_count:
        return None
    # The cap-th most recent message must leave the window before another may go.
    return recent[-1] + limits.cap_period + dt.timedelta(microseconds=1)


def _minute(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


def _take(channel: str, start: dt.datetime, rate: int) -> bool:
    """One place in the minute starting at ``start``, if it has one (the row stays locked)."""
    if SendWindow.objects.filter(channel=channel, starts_at=start, sent__lt=rate).update(
        sent=F("sent") + 1
    ):
        return True
    if SendWindow.objects.filter(channel=channel, starts_at=start).exists():
        return False
    try:
        with transaction.atomic():
            SendWindow.objects.create(channel=channel, starts_at=start, sent=1)
        return True
    except IntegrityError:  # someone created the minute meanwhile: try it the ordinary way
        return bool(
            SendWindow.objects.filter(channel=channel, starts_at=start, sent__lt=rate).update(
                sent=F("sent") + 1
            )
        )


def reserve(limits: Limits, channel: str, now: dt.datetime) -> dt.datetime | None:
    """A place under the global rate: the start of the minute it is in (now's minute or a
    later one), or None when there is no limit. The place is held by this transaction."""
    if limits.rate_per_minute is None:
        return None
    start = _minute(now)
    for step in range(RATE_HORIZON_MINUTES):
        moment = start + dt.timedelta(minutes=step)
        if _take(channel, moment, limits.rate_per_minute):
            return moment
    return start + dt.timedelta(minutes=RATE_HORIZON_MINUTES)


def prune_windows(before: dt.datetime) -> int:
    """Forget rate counters of minutes long past (a tick step)."""
    return SendWindow.objects.filter(starts_at__lt=before).delete()[0]
