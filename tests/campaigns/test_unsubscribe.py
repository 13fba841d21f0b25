"""The unsubscribe link, opens and clicks: signed links over real URLs, honoured everywhere.

An unsubscribe is asked for on GET (a mail scanner following links unsubscribes nobody) and
done on POST, or by the mail client's one-click POST (RFC 8058). After it, no campaign sends
on that channel: new sends are suppressed, and a message already in the outbox is skipped.
Consent fields are respected the same way; forged or mixed-up tokens are 404s.
"""

from __future__ import annotations

import re

import pytest

from tessera.actions.models import OutboxEntry
from tessera.flows.campaigns import service as campaigns
from tessera.flows.campaigns import tracking
from tessera.flows.campaigns.models import Message, Unsubscribe
from tessera.records.models import Event

from .conftest import deliver_all, event, one_send

pytestmark = pytest.mark.django_db
LINK = re.compile(r"https://crm\.example\.com(/c/[oku]/[^\s\"<>]+)")


def links(mail, kind: str) -> list[str]:
    text = mail.text() + mail.html()
    return [p for p in LINK.findall(text) if p.startswith(f"/c/{kind}/")]


def test_unsubscribing_stops_every_campaign_on_that_channel(
    publish, customer, clock, committed, smtp_settings, client
):
    publish("promo", one_send("promo"))
    publish("news", one_send("news", marketing=False))
    ana = customer("Ana")
    with committed():
        event(ana, "promo")
    clock.tick()
    (mail,) = smtp_settings.received
    (unsubscribe,) = set(links(mail, "u"))

    page = client.get(unsubscribe)
    assert page.status_code == 200 and b'<form method="post">' in page.content
    assert not Unsubscribe.objects.exists()  # looking is not unsubscribing
    assert client.post(unsubscribe).status_code == 200
    assert Unsubscribe.objects.get().channel == "email"
    ana.refresh_from_db()
    assert ana.data["email_opt_in"] is False  # the campaign's consent field says it too
    assert Event.objects.filter(subject=ana, type="unsubscribed").count() == 1
    assert client.post(unsubscribe).status_code == 200  # twice: still one row, one event
    assert Event.objects.filter(subject=ana, type="unsubscribed").count() == 1

    with committed():
        event(ana, "promo")
        event(ana, "news")  # not marketing: consent is not asked, the unsubscribe still holds
    clock.tick()
    assert len(smtp_settings.received) == 1
    assert sorted(Message.objects.filter(status="suppressed").values_list("reason", flat=True)) == [
        "unsubscribed",
        "unsubscribed",
    ]
    assert campaigns.metrics("promo")["suppressed"] == 1


def test_a_message_already_queued_is_skipped_after_an_unsubscribe(
    publish, customer, committed, smtp_settings, client
):
    publish("promo", one_send("promo"))
    bo = customer("Bo")
    with committed():
        event(bo, "promo")
    message = Message.objects.get()
    assert message.status == "queued"
    # one-click, as a mail client does it from the List-Unsubscribe-Post header
    answer = client.post(
        f"/c/u/{tracking.token('u', message.pk)}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200
    deliver_all()
    assert smtp_settings.received == []
    message.refresh_from_db()
    assert (message.status, message.reason) == ("suppressed", "unsubscribed")
    assert OutboxEntry.objects.get().status == "skipped"


def test_consent_is_respected(publish, customer, clock, committed, smtp_settings):
    publish("promo", one_send("promo"))
    no = customer("No consent", email_opt_in=False)
    unknown = customer("Never asked", email_opt_in=None)
    nowhere = customer("No address", email=None)
    with committed():
        for person in (no, unknown, nowhere):
            event(person, "promo")
    clock.tick()
    assert smtp_settings.received == []
    reasons = dict(Message.objects.values_list("subject_id", "reason"))
    assert reasons == {
        no.pk: "no consent (email_opt_in)",
        unknown.pk: "no consent (email_opt_in)",
        nowhere.pk: "no address",
    }


def test_opens_and_clicks_are_counted_once_and_links_cannot_be_forged(
    publish, customer, clock, committed, smtp_settings, client
):
    publish("promo", one_send("promo"))
    cy = customer("Cy")
    with committed():
        event(cy, "promo")
    clock.tick()
    (mail,) = smtp_settings.received
    (click,) = set(links(mail, "k"))
    (pixel,) = set(links(mail, "o"))
    answer = client.get(click)
    assert answer.status_code == 302 and answer["Location"] == "https://shop.example.com/offers"
    client.get(click)
    message = Message.objects.get()
    assert message.clicks == 2 and message.clicked_at and message.opened_at  # a click opens
    assert client.get(pixel)["Content-Type"] == "image/gif"
    assert Event.objects.filter(subject=cy, type="message_clicked").count() == 1
    assert Event.objects.filter(subject=cy, type="message_opened").count() == 1

    assert client.get(click[:-3] + "xyz").status_code == 404  # the signature breaks
    assert client.get(f"/c/k/{tracking.token('o', message.pk)}").status_code == 404  # wrong kind
    assert client.get(f"/c/k/{tracking.token('k', message.pk, 7)}").status_code == 404  # no link 7
    assert client.post(f"/c/u/{tracking.token('k', message.pk, 0)}").status_code == 404
    assert client.get("/c/o/garbage").status_code == 404
    assert client.get(f"/c/o/{tracking.token('o', 10**9)}").status_code == 404
    assert not Unsubscribe.objects.exists()
    numbers = campaigns.metrics("promo")
    assert (numbers["sent"], numbers["opened"], numbers["clicked"]) == (1, 1, 1)
