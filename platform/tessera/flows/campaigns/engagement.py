"""What a customer does with a message: opens it, clicks a link, unsubscribes.

The first open and the first click of a message are also events on the customer
(``message_opened``, ``message_clicked``: segments and branches can use them); an
unsubscribe is an ``unsubscribed`` event, an ``Unsubscribe`` row that every send of every
campaign checks, and, where the campaign names a consent field for the channel, that field
set to false, so the customer's profile says it too.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tessera.records import service as records
from tessera.records.models import Record

from ..graph import FlowNotFound, load
from .models import Message, Unsubscribe

logger = logging.getLogger(__name__)


def _event(message: Message, kind: str) -> None:
    record = Record.objects.filter(pk=message.subject_id).first()
    if record is not None:
        payload = {
            "campaign": message.campaign_key,
            "node": message.node,
            "channel": message.channel,
        }
        records.add_event(record, kind, payload)


@transaction.atomic
def opened(message: Message) -> bool:
    """Record an open; True the first time."""
    first = Message.objects.filter(pk=message.pk, opened_at__isnull=True).update(
        opened_at=timezone.now()
    )
    if first:
        _event(message, "message_opened")
    return bool(first)


@transaction.atomic
def clicked(message: Message) -> bool:
    """Record a click (and an open, if none was seen); True the first time."""
    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(clicks=F("clicks") + 1)
    if Message.objects.filter(pk=message.pk, opened_at__isnull=True).update(opened_at=now):
        _event(message, "message_opened")
    first = Message.objects.filter(pk=message.pk, clicked_at__isnull=True).update(clicked_at=now)
    if first:
        _event(message, "message_clicked")
    return bool(first)


@transaction.atomic
def unsubscribe(subject_id: int, channel: str, *, message: Message | None = None) -> bool:
    """Opt the customer out of ``channel`` (``*``: every channel); True if they were in."""
    record = Record.objects.select_for_update().filter(pk=subject_id).first()
    if record is None:
        return False
    _, created = Unsubscribe.objects.get_or_create(
        subject=record, channel=channel, defaults={"at": timezone.now(), "message": message}
    )
    if not created:
        return False
    consent = _consent_field(message) if message is not None else None
    if consent and record.data.get(consent) is not False:
        try:
            with transaction.atomic():
                records.update(
                    record.object_key,
                    record.pk,
                    {consent: False},
                    version=record.version,
                    comment=f"unsubscribed from {channel}",
                )
        except Exception:  # the opt-out row stands; the profile field is a courtesy
            logger.exception("unsubscribe: could not clear %s on #%s", consent, record.pk)
    records.add_event(
        record,
        "unsubscribed",
        {"channel": channel, "campaign": getattr(message, "campaign_key", "")},
    )
    return True


def _consent_field(message: Message) -> str | None:
    try:
        flow = load("campaign", message.campaign_key, message.campaign_version)
    except FlowNotFound:
        return None
    return flow.options.get("consent", {}).get(message.channel)


def is_unsubscribed(subject_id: int, channel: str) -> bool:
    return Unsubscribe.objects.filter(
        subject_id=subject_id, channel__in=[channel, Unsubscribe.ALL]
    ).exists()
