"""``campaign_message``: the outbox action that renders one campaign message and sends it.

The send node wrote the ``Message`` row and this outbox entry in one transaction; a worker
performs it after the commit, at least once. Rendering happens here, over the customer's
fields as they are now (``record`` in the template, frozen and nothing else) plus the
``unsubscribe_url``; links are rewritten to signed tracking links and the open pixel added.

Exactly once: the row is marked sent in the same breath as the send, and a second attempt
(a worker killed after the send, before the outbox recorded it) finds it sent and does not
send again. The one window left is a crash between the provider's acceptance and that mark;
the retry then carries the same key (e-mail: the same Message-ID), so the receiver can tell.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from tessera.actions.builtins.rendering import render, template_context
from tessera.actions.types import ActionType, Effect, PermanentFailure, Skip
from tessera.plugins import channels
from tessera.records.models import Record

from ..graph import load
from . import tracking
from .channels import Outgoing, Sent
from .models import Message, MessageStatus, Unsubscribe


def _suppress(message: Message, reason: str) -> Skip:
    Message.objects.filter(pk=message.pk, status=MessageStatus.QUEUED).update(
        status=MessageStatus.SUPPRESSED, reason=reason
    )
    return Skip(reason)


def content_of(
    channel: Any, params: dict[str, Any], data: dict[str, Any], message: Message, track: bool
) -> tuple[dict[str, str], list[str], str]:
    """The rendered templates, the tracked link targets and the unsubscribe URL."""
    unsubscribe = tracking.unsubscribe_url(message.pk)
    context = template_context(data, message.subject_id)
    context["unsubscribe_url"] = unsubscribe
    links = tracking.Links(message.pk, unsubscribe)
    content: dict[str, str] = {}
    for name, mode in channel.templates.items():
        source = params.get(name)
        if not isinstance(source, str):
            continue
        text = render(source, context, html=mode == "html")
        if mode == "plain":
            text = " ".join(text.split())
        elif track and mode == "html":
            text = links.html(text)
        elif track and mode == "text":
            text = links.text(text)
        content[name] = text
    return content, links.targets, unsubscribe


class CampaignMessage(ActionType):
    """Render and send a campaign message (written by a send node, never by hand)."""

    type = "campaign_message"
    label = {"en": "Campaign message", "zh": "营销消息"}
    params_schema = {
        "type": "object",
        "required": ["message"],
        "additionalProperties": False,
        "properties": {"message": {"type": "integer", "minimum": 1}},
    }

    def perform(self, effect: Effect) -> dict[str, Any]:
        message = Message.objects.filter(pk=effect.params["message"]).first()
        if message is None:
            raise Skip("the message row is gone")
        if message.status == MessageStatus.SENT:
            return {"already_sent": True}
        record = Record.objects.filter(pk=message.subject_id).first()
        if record is None:
            raise _suppress(message, "the customer is gone")
        if Unsubscribe.objects.filter(
            subject_id=record.pk, channel__in=[message.channel, Unsubscribe.ALL]
        ).exists():
            raise _suppress(message, "unsubscribed")
        flow = load("campaign", message.campaign_key, message.campaign_version)
        config = flow.nodes[message.node].config
        consent = flow.options.get("consent", {}).get(message.channel)
        if message.marketing and consent and record.data.get(consent) is not True:
            raise _suppress(message, f"no consent ({consent})")
        channel = channels.get(message.channel)
        content, links, unsubscribe = content_of(
            channel, config["message"], record.data, message, config.get("track", True)
        )
        Message.objects.filter(pk=message.pk).update(links=links)
        outgoing = Outgoing(
            key=effect.key,
            channel=channel.type,
            address=message.address,
            content=content,
            params={k: v for k, v in config["message"].items() if k not in channel.templates},
            unsubscribe_url=unsubscribe,
            headers={
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            attempt=effect.attempt,
        )
        try:
            sent = channel.send(outgoing) or Sent()
        except PermanentFailure as exc:
            Message.objects.filter(pk=message.pk).update(
                status=MessageStatus.FAILED, reason=str(exc)[:200]
            )
            raise
        now = timezone.now()
        Message.objects.filter(pk=message.pk).update(
            status=MessageStatus.SENT, sent_at=now, delivered_at=now if sent.delivered else None
        )
        return {"message": message.pk, "provider_id": sent.provider_id}
