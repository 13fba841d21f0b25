"""The send node: whether, when and to whom a campaign message goes, then the outbox.

In order, with the customer's row locked (so two campaigns cannot both take the last place
under a cap): a paused campaign holds the run here; a customer who met the goal leaves; an
unsubscribed customer, one without consent (marketing messages) or without an address gets
no message (a ``suppressed`` row says why) and goes on; quiet hours, the frequency cap and
the global rate *defer* the send: the run waits here on a durable timer and enters the node
again when it is due. Otherwise the message row is written and handed to the outbox under
the run's key, in the same transaction: the send happens once, after the commit.
"""

from __future__ import annotations

import datetime as dt

from tessera.definitions.durations import iso_datetime
from tessera.plugins import channels
from tessera.records.models import Record

from ..models import Run, RunStatus, StepKind
from ..nodes import NodeType
from ..runtime import END, WAIT, Outcome, Visit, follow
from . import limits, state
from .models import Message, MessageStatus, Unsubscribe
from .nodes import goal_reached, hold
from .zones import zone_for

RETRY = "campaign.retry"
ACTION = "campaign_message"


def suppression(visit: Visit, channel: str, address: object, marketing: bool) -> str:
    """Why this customer must not get this message, or ''."""
    run, data = visit.run, visit.record().data
    if Unsubscribe.objects.filter(
        subject_id=run.subject_id, channel__in=[channel, Unsubscribe.ALL]
    ).exists():
        return "unsubscribed"
    consent = visit.flow.options.get("consent", {}).get(channel)
    if marketing and consent and data.get(consent) is not True:
        return f"no consent ({consent})"
    if not isinstance(address, str) or not address.strip():
        return "no address"
    return ""


def defer(visit: Visit, reason: str, until: dt.datetime) -> Outcome:
    """Wait at this node until ``until``; the retry timer enters it again."""
    from tessera.timers import service as timers

    timers.schedule(
        RETRY,
        until,
        owner=visit.run.timer_owner,
        payload={"run": visit.run.pk, "visit": visit.number, "node": visit.node.id},
    )
    visit.run.data["deferred"] = {"reason": reason, "until": iso_datetime(until)}
    return WAIT


class CampaignSend(NodeType):
    """Send one message through a channel, within every limit."""

    type = "campaign_send"

    def enter(self, visit: Visit) -> Outcome:
        run, config = visit.run, visit.node.config
        if state.is_paused(run):
            return hold(visit)
        visit.subject = Record.objects.select_for_update().get(pk=run.subject_id)
        if goal_reached(visit):
            return END
        run.data.pop("deferred", None)
        channel = channels.get(config["channel"])
        address = visit.record().data.get(config.get("to") or channel.default_address_field)
        marketing = config.get("marketing", True)
        reason = suppression(visit, channel.type, address, marketing)
        if reason:
            self._message(visit, channel.type, "", marketing, MessageStatus.SUPPRESSED, reason)
            return follow()
        found = limits.limits_for(channel.type)
        zone = zone_for(visit.flow.options, visit.record().data)
        until = limits.quiet_until(found, visit.now, zone)
        if until is not None:
            return defer(visit, "quiet_hours", until)
        if marketing:
            until = limits.cap_until(found, run.subject_id, channel.type, visit.now)
            if until is not None and config.get("on_cap", "defer") == "skip":
                self._message(
                    visit, channel.type, address, marketing, MessageStatus.SUPPRESSED, "capped"
                )
                return follow()
            if until is not None:
                return defer(visit, "frequency_cap", until)
        reserved = run.data.pop("reserved", None)
        if reserved is None or reserved > iso_datetime(visit.now):
            slot = limits.reserve(found, channel.type, visit.now)
            if slot is not None and slot > visit.now:
                run.data["reserved"] = iso_datetime(slot)
                return defer(visit, "send_rate", slot)
        message = self._message(visit, channel.type, address, marketing, MessageStatus.QUEUED, "")
        visit.run_actions([{"type": ACTION, "params": {"message": message.pk}}], "send")
        return follow()

    def _message(self, visit, channel, address, marketing, status, reason) -> Message:
        entry = state.entry_of(visit.run)
        return Message.objects.create(
            campaign_key=visit.flow.key,
            campaign_version=visit.flow.version,
            node=visit.node.id,
            variant=entry.variant if entry else "",
            run=visit.run,
            subject_id=visit.run.subject_id,
            channel=channel,
            address=(address or "")[:320],
            key=f"run:{visit.run.pk}:{visit.number}:send:0",
            marketing=marketing,
            status=status,
            reason=reason,
            created_at=visit.now,
        )


def retry(timer) -> None:
    """Enter the send node again when its deferral ends (unless the run has moved on)."""
    from .. import runtime
    from ..graph import load

    payload = timer.payload
    run = Run.objects.select_for_update().filter(pk=payload.get("run")).first()
    if run is None or run.status != RunStatus.ACTIVE:
        return
    if run.node != payload.get("node") or run.visits != payload.get("visit"):
        return
    flow = load(run.flow_kind, run.flow_key, run.flow_version)
    reason = (run.data or {}).get("deferred", {}).get("reason", "")
    runtime.enter(run, flow, run.node, step={"kind": StepKind.TIMER, "comment": f"after {reason}"})
