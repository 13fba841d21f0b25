"""The SMS channel's HTTP provider against a real local HTTP server: accepted, retried, refused."""

from __future__ import annotations

import json

import pytest

from tessera.actions.models import OutboxEntry
from tessera.flows.campaigns.models import Message

from .conftest import deliver_all, event, one_send

pytestmark = pytest.mark.django_db


def texting() -> dict:
    campaign = one_send("promo")
    campaign["consent"] = {"sms": "sms_opt_in"}
    campaign["nodes"]["mail"] = {
        "type": "send",
        "channel": "sms",
        "message": {"text": "Hi {{ record.name }}: https://shop.example.com/sale"},
        "next": "done",
    }
    return campaign


@pytest.fixture
def gateway(settings, http_server):
    settings.TESSERA_SMS = {"url": f"{http_server.url}/v1/sms", "token": "s3cret", "sender": "SHOP"}
    settings.TESSERA_ACTIONS = {"backoff_seconds": 0, "backoff_max_seconds": 0, "max_attempts": 3}
    return http_server


def test_a_text_reaches_the_gateway_with_its_key_and_a_tracked_link(
    publish, customer, committed, gateway
):
    publish("sms", texting())
    ana = customer("Ana", phone="+86 138 0000 0001")
    with committed():
        event(ana, "promo")
    deliver_all()
    (arrival,) = gateway.received
    body = json.loads(arrival.body)
    message = Message.objects.get()
    assert arrival.path == "/v1/sms" and arrival.headers["Authorization"] == "Bearer s3cret"
    assert body["to"] == "+86 138 0000 0001" and body["sender"] == "SHOP"
    assert body["reference"] == arrival.headers["Idempotency-Key"] == message.key
    assert body["text"].startswith("Hi Ana: https://crm.example.com/c/k/")
    assert message.links == ["https://shop.example.com/sale"] and message.status == "sent"


def test_busy_gateways_are_retried_and_refusals_fail_for_a_person_to_see(
    publish, customer, committed, gateway
):
    publish("sms", texting())
    gateway.statuses = [429, 503, 200, 400]
    ana, bo = customer("Ana"), customer("Bo")
    with committed():
        event(ana, "promo")
    for _ in range(3):
        deliver_all()
    assert [e.status for e in OutboxEntry.objects.all()] == ["sent"]
    assert len(gateway.received) == 3  # 429, 503, then accepted
    with committed():
        event(bo, "promo")
    deliver_all()
    refused = Message.objects.get(subject_id=bo.pk)
    assert refused.status == "failed" and "400" in refused.reason
    assert OutboxEntry.objects.get(record_id=bo.pk).status == "failed"


def test_no_consent_no_text(publish, customer, committed, gateway):
    publish("sms", texting())
    cy = customer("Cy", sms_opt_in=False)
    with committed():
        event(cy, "promo")
    deliver_all()
    assert gateway.received == []
    assert Message.objects.get().reason == "no consent (sms_opt_in)"
