"""ISO 8601 durations (``P90D``, ``PT1H``, ``P1M``) and the instants they lead to."""

from __future__ import annotations

import datetime as dt
import re

from dateutil.relativedelta import relativedelta

_DURATION = re.compile(
    r"P(?:(?P<years>\d{1,4})Y)?(?:(?P<months>\d{1,4})M)?(?:(?P<weeks>\d{1,5})W)?"
    r"(?:(?P<days>\d{1,6})D)?(?:T(?:(?P<hours>\d{1,6})H)?(?:(?P<minutes>\d{1,7})M)?"
    r"(?:(?P<seconds>\d{1,9})S)?)?"
)


def parse_duration(text: str) -> relativedelta:
    """``P1Y2M10DT2H`` → relativedelta; ValueError for anything else (or an empty ``P``)."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P90D or PT2H")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    return relativedelta(**parts)


def is_duration(text: object) -> bool:
    try:
        parse_duration(text)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def iso_datetime(instant: dt.datetime) -> str:
    """The one text shape datetimes are stored and compared in (see records.service)."""
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
