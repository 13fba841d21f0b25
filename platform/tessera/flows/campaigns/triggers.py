"""What brings a customer into a campaign: trigger types, in ``tessera.plugins.triggers``.

A trigger is either **event-driven** (it names the event types it listens to and accepts or
refuses each event; segment entries and exits are events too) or **scheduled** (the tick asks
it, now and then, whom to let in: a date field's anniversary, a broadcast). Every entry it
makes carries an occurrence key (``event:<id>``, ``date:2026-11-02``, ``broadcast:<iso>``):
the same occurrence delivered twice enters the customer once.

A plugin adds a trigger type as it adds anything::

    registries.triggers.register(MyTrigger())
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

from tessera.definitions.cache import published
from tessera.definitions.durations import parse_duration
from tessera.definitions.errors import FieldError

from .payload import payload_errors, payload_matches
from .zones import parse_time

if TYPE_CHECKING:
    from tessera.records.models import Event

    from ..graph import Flow

DATE_TYPES = {"date", "datetime"}


def _unknown_keys(config: dict[str, Any], allowed: set[str], path: str) -> list[FieldError]:
    return [
        FieldError(f"{path}.{k}", "unknown_key", f"{config['type']} takes {sorted(allowed)}")
        for k in config
        if k not in allowed | {"type"}
    ]


def _text(config: dict[str, Any], name: str, path: str, *, maximum: int = 100) -> list[FieldError]:
    value = config.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= maximum:
        return [FieldError(f"{path}.{name}", "required", f"{name} is a text of 1 to {maximum}")]
    return []


class TriggerType:
    """Base of trigger types. Event-driven ones override ``event_types`` and ``accepts``;
    scheduled ones set ``scheduled`` and implement ``tick``."""

    type: ClassVar[str]
    label: ClassVar[dict[str, str]] = {}
    scheduled: ClassVar[bool] = False

    def check(self, config: dict[str, Any], *, object_key: str, path: str) -> list[FieldError]:
        return []

    def event_types(self, config: dict[str, Any]) -> set[str]:
        return set()

    def accepts(self, config: dict[str, Any], event: Event) -> bool:
        return False

    def occurrence(self, event: Event) -> str:
        return f"event:{event.pk}"

    def tick(self, flow: Flow, now: dt.datetime) -> int:
        """Scheduled triggers: let in whom is due now; returns how many were handed on."""
        return 0


class EventTrigger(TriggerType):
    """An event on the customer (``cart_abandoned``, ``order_placed``), with a payload condition."""

    type = "event"
    label = {"en": "An event happens", "zh": "发生事件"}

    def check(self, config, *, object_key, path):
        errors = _unknown_keys(config, {"event", "where"}, path) + _text(config, "event", path)
        where = config.get("where", {})
        if not isinstance(where, dict):
            return [*errors, FieldError(f"{path}.where", "type", "where is {payload key: value}")]
        return errors + payload_errors(where, f"{path}.where")

    def event_types(self, config):
        return {config["event"]}

    def accepts(self, config, event):
        return event.type == config["event"] and payload_matches(config.get("where"), event.payload)


class SegmentTrigger(TriggerType):
    """Entering (or leaving) a segment: the segment's ``segment_entered``/``_exited`` events."""

    event: ClassVar[str]

    def check(self, config, *, object_key, path):
        errors = _unknown_keys(config, {"segment"}, path) + _text(
            config, "segment", path, maximum=64
        )
        if errors:
            return errors
        definition = published("segment", config["segment"])
        if definition is None:
            return [
                FieldError(
                    f"{path}.segment", "unknown_segment", f"{config['segment']!r} is not published"
                )
            ]
        if definition.body.get("object") != object_key:
            return [
                FieldError(
                    f"{path}.segment",
                    "wrong_object",
                    f"segment {config['segment']!r} is about {definition.body.get('object')}",
                )
            ]
        return []

    def event_types(self, config):
        return {self.event}

    def accepts(self, config, event):
        return event.type == self.event and event.payload.get("segment") == config["segment"]


class SegmentEntered(SegmentTrigger):
    type, event = "segment_entered", "segment_entered"
    label = {"en": "Enters a segment", "zh": "进入分群"}


class SegmentExited(SegmentTrigger):
    type, event = "segment_exited", "segment_exited"
    label = {"en": "Leaves a segment", "zh": "离开分群"}


class DateFieldTrigger(TriggerType):
    """A date field of the customer (birthday, sign-up anniversary), shifted by whole days,
    on the customer's local day, from a local time on (``at``, default midnight)."""

    type = "date_field"
    label = {"en": "A date comes round", "zh": "日期到来"}
    scheduled = True

    def check(self, config, *, object_key, path):
        from tessera.actions.fields import check_field

        errors = _unknown_keys(config, {"field", "offset_days", "at", "annual"}, path)
        errors += _text(config, "field", path, maximum=63)
        if not errors:
            errors += check_field(object_key, config["field"], f"{path}.field", x_types=DATE_TYPES)
        offset = config.get("offset_days", 0)
        if not isinstance(offset, int) or isinstance(offset, bool) or abs(offset) > 366:
            errors.append(FieldError(f"{path}.offset_days", "invalid", "-366 to 366 days"))
        if "at" in config:
            try:
                parse_time(config["at"])
            except (ValueError, AttributeError):
                errors.append(FieldError(f"{path}.at", "invalid", "a local time such as 09:00"))
        if not isinstance(config.get("annual", True), bool):
            errors.append(FieldError(f"{path}.annual", "type", "annual is true or false"))
        return errors

    def tick(self, flow, now):
        from .dates import enter_due

        return enter_due(flow, now)


class BroadcastTrigger(TriggerType):
    """A segment, all at once: at ``at`` (default: when published), again ``every`` period."""

    type = "broadcast"
    label = {"en": "Broadcast to a segment", "zh": "群发"}
    scheduled = True

    def check(self, config, *, object_key, path):
        errors = _unknown_keys(config, {"segment", "at", "every"}, path)
        errors += SegmentEntered().check(
            {"type": self.type, "segment": config.get("segment")}, object_key=object_key, path=path
        )
        if "at" in config:
            try:
                parsed = dt.datetime.fromisoformat(str(config["at"]).replace("Z", "+00:00"))
                if parsed.tzinfo is None:
                    raise ValueError("naive")
            except ValueError:
                errors.append(
                    FieldError(f"{path}.at", "invalid", "an ISO date-time with its offset")
                )
        if "every" in config:
            try:
                every = parse_duration(config["every"])
                base = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
                if base + every < base + dt.timedelta(hours=1):
                    errors.append(FieldError(f"{path}.every", "too_often", "at most hourly"))
            except ValueError as exc:
                errors.append(FieldError(f"{path}.every", "duration", str(exc)))
        return errors

    def tick(self, flow, now):
        from .broadcasts import start_due

        return start_due(flow, now)


BUILTIN_TRIGGERS = [
    EventTrigger(),
    SegmentEntered(),
    SegmentExited(),
    DateFieldTrigger(),
    BroadcastTrigger(),
]
