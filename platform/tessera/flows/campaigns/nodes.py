"""Campaign node types, registered in ``tessera.plugins.node_types`` beside the built-ins.

Campaigns reuse the built-in ``wait`` (a duration, a date-time field), ``branch`` (a condition
on the customer) and ``end``; these add what only campaigns need:

- ``campaign_wait``: until a weekday and time, or a date field shifted by days, at a local
  time, all in the customer's time zone;
- ``campaign_branch``: on events since the customer entered, or on engagement with an
  earlier message (sent, delivered, opened, clicked);
- ``campaign_split``: weighted A/B/n stable per customer (the built-in's hash), with a
  hold-out control group; the variant is kept on the entry for metrics and uplift;
- ``campaign_holdout``: the control group's node: no messages, the run ends;
- ``campaign_send`` (``sending``) and ``campaign_action``: effects, which a paused campaign
  holds back: the run stays at the node (``held``) and resuming enters it again.
"""

from __future__ import annotations

import datetime as dt

from django.utils.dateparse import parse_date, parse_datetime

from tessera.records.models import Event

from ..nodes import NodeType, pick_variant, schedule_wake
from ..runtime import END, WAIT, Outcome, Visit, follow
from . import goals, state
from .models import Entry, Message
from .payload import payload_matches
from .zones import at_local, next_time, parse_time, zone_for


def hold(visit: Visit) -> Outcome:
    """Stop before an effect while the campaign is paused; ``resume`` enters the node again."""
    entry = state.entry_of(visit.run)
    if entry is not None and not entry.held:
        entry.held = True
        Entry.objects.filter(pk=entry.pk).update(held=True)
    return WAIT


class CampaignWait(NodeType):
    """Until a weekday and local time, or until a date field (+ days) at a local time."""

    type = "campaign_wait"

    def enter(self, visit: Visit) -> Outcome:
        config = visit.node.config
        record = visit.record()
        zone = zone_for(visit.flow.options, record.data)
        if "until" in config:
            until = config["until"]
            due = next_time(visit.now, zone, parse_time(until["time"]), until.get("weekday"))
            return schedule_wake(visit, due)
        value = record.data.get(config["until_field"])
        day = _local_date(value, zone)
        if day is None:
            return follow()  # no date to wait for: go on at once
        day += dt.timedelta(days=config.get("offset_days", 0))
        return schedule_wake(visit, at_local(day, parse_time(config.get("at", "00:00")), zone))


def _local_date(value: object, zone) -> dt.date | None:
    if not isinstance(value, str):
        return None
    if len(value) == 10:
        return parse_date(value)
    moment = parse_datetime(value)
    return moment.astimezone(zone).date() if moment else None


class CampaignBranch(NodeType):
    """``then`` when the customer did an event since entering, or engaged with a message."""

    type = "campaign_branch"

    def enter(self, visit: Visit) -> Outcome:
        config = visit.node.config
        if "event" in config:
            matched = self._event(visit, config["event"])
        else:
            matched = self._engaged(visit, config["engagement"])
        return follow("then" if matched else "else")

    def _event(self, visit: Visit, spec: dict) -> bool:
        entry = state.entry_of(visit.run)
        events = Event.objects.filter(
            subject_id=visit.run.subject_id,
            type=spec["type"],
            occurred_at__gt=entry.entered_at if entry else visit.run.started_at,
            occurred_at__lte=visit.now,
        ).only("payload")
        return any(payload_matches(spec.get("where"), e.payload) for e in events[:1000])

    def _engaged(self, visit: Visit, spec: dict) -> bool:
        message = (
            Message.objects.filter(run_id=visit.run.pk, node=spec["message"])
            .order_by("-created_at", "-id")
            .first()
        )
        if message is None:
            return False
        moment = {
            "sent": message.sent_at,
            "delivered": message.delivered_at,
            "opened": message.opened_at or message.clicked_at,
            "clicked": message.clicked_at,
        }[spec["is"]]
        return moment is not None and moment <= visit.now


class CampaignSplit(NodeType):
    """Weighted variants and an optional control group, stable per customer."""

    type = "campaign_split"

    def enter(self, visit: Visit) -> Outcome:
        config = visit.node.config
        variants = [{"name": v["name"], "weight": v["weight"]} for v in config["variants"]]
        if "control" in config:
            variants.append({"name": "control", "weight": config["control"]["weight"]})
        chosen = pick_variant(variants, f"{visit.flow.key}:{visit.node.id}:{visit.run.subject_id}")
        visit.run.data.setdefault("variants", {})[visit.node.id] = chosen
        entry = state.entry_of(visit.run)
        if entry is not None and not entry.split:
            entry.split, entry.variant = visit.node.id, chosen
            state.save_variant(visit.run, entry)
        return follow(chosen)


class Holdout(NodeType):
    """The control group: no message, the run ends; the goal window still counts."""

    type = "campaign_holdout"

    def enter(self, visit: Visit) -> Outcome:
        return END


class CampaignAction(NodeType):
    """The built-in action node, held back while the campaign is paused."""

    type = "campaign_action"

    def enter(self, visit: Visit) -> Outcome:
        if state.is_paused(visit.run):
            return hold(visit)
        if goal_reached(visit):
            return END
        visit.run_actions(visit.node.config.get("actions", []), "action")
        return follow()


def goal_reached(visit: Visit) -> bool:
    """Before an effect: a customer who met the goal leaves now, converted."""
    entry = state.entry_of(visit.run)
    if entry is None or goals.goal_of(visit.flow) is None:
        return False
    at = goals.met(visit.flow, entry, visit.record(), visit.now)
    if at is None:
        return False
    goals.mark(entry, at)
    return True
