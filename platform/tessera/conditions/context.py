"""What both faces of a condition need besides the tree: the clock and the database dialect."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from tessera.definitions.durations import iso_datetime, parse_duration


@dataclass
class Clock:
    """One ``now`` for a whole evaluation, so relative dates mean the same in SQL and Python."""

    now: dt.datetime = field(default_factory=timezone.now)

    def is_real(self) -> bool:
        """Is this clock (within a minute) the wall clock?"""
        return abs((timezone.now() - self.now).total_seconds()) < 60

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(dt.UTC).date()

    def shifted(self, duration: str, sign: int) -> dt.datetime:
        delta = parse_duration(duration)
        return self.now + delta if sign > 0 else self.now - delta

    def date_value(self, value: Any, kind: str) -> str:
        """An absolute or relative date value, as the text a ``kind`` field stores.

        Relative values: ``"now"``, ``"today"``, ``{"ago": "P30D"}``, ``{"from_now": "P7D"}``,
        resolved against this clock in UTC.
        """
        instant: dt.datetime | None = None
        if isinstance(value, dict):
            if "ago" in value:
                instant = self.shifted(value["ago"], -1)
            else:
                instant = self.shifted(value["from_now"], +1)
        elif value in ("now", "today"):
            instant = self.now
        if instant is not None:
            if kind == "date":
                return instant.astimezone(dt.UTC).date().isoformat()
            return iso_datetime(instant)
        text = str(value)
        if kind == "date":
            return text[:10]
        if len(text) == 10:
            return f"{text}T00:00:00.000000Z"
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return iso_datetime(parsed)


@dataclass
class SqlContext:
    """Collects parameters while a tree is compiled for one database."""

    clock: Clock
    vendor: str = ""
    params: list[Any] = field(default_factory=list)
    aliases: int = 0
    use_rollups: bool = True

    def __post_init__(self) -> None:
        self.vendor = self.vendor or connection.vendor

    @property
    def postgres(self) -> bool:
        return self.vendor == "postgresql"

    def param(self, value: Any, kind: str = "text") -> str:
        if kind == "number" and self.postgres and not isinstance(value, bool):
            value = Decimal(str(value))  # compared with ::numeric; a float8 would skip the index
        if isinstance(value, dt.datetime):
            # the text/timestamp the ORM stores, so a boundary instant compares equal
            value = connection.ops.adapt_datetimefield_value(value)
        self.params.append(value)
        return "%s"

    def new_alias(self) -> str:
        self.aliases += 1
        return f"t{self.aliases}"


def time_zone_name() -> str:
    return settings.TIME_ZONE
