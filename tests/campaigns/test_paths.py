"""The paths the classic flows do not take: leaving a segment, a branch on the customer and on
clicks and deliveries, tag and webhook actions, the branch (not the goal) catching a buyer, and
templates that see the customer's fields and nothing else."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed
from tessera.flows.campaigns import service as campaigns
from tessera.flows.campaigns.models import Entry, Message
from tessera.flows.models import Run, Step
from tessera.records import service as records
from tessera.segments import service as segments

from .conftest import event, example, one_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def richer_customer(shop):
    """The documented customer with a ``vip`` flag and ``tags``, for branches and tag actions."""
    customer = example("customer")["body"]
    customer["properties"]["vip"] = {"x-type": "boolean"}
    customer["properties"]["tags"] = {"x-type": "list", "items": {"x-type": "string"}}
    definitions.save_and_publish("object", "customer", customer)


def path(run: Run) -> list[str]:
    return list(Step.objects.filter(run=run).exclude(to_node="").values_list("to_node", flat=True))


def test_leaving_a_segment_lets_the_customer_in(publish, customer, clock, committed):
    welcome_back = one_send("unused")
    welcome_back["trigger"] = {"type": "segment_exited", "segment": "dormant"}
    publish("welcome-back", welcome_back)
    ana, bo = customer("Ana"), customer("Bo")
    for person in (ana, bo):
        placed = (clock.now - dt.timedelta(days=120)).isoformat()
        records.create("order", {"customer": person.pk, "total": 30, "placed_at": placed})
    with committed():
        segments.refresh("dormant")
    assert not Entry.objects.exists()  # entering the segment is not leaving it

    records.create("order", {"customer": ana.pk, "total": 40, "placed_at": clock.now.isoformat()})
    with committed():
        segments.refresh("dormant")
    (entry,) = Entry.objects.filter(campaign_key="welcome-back")
    assert entry.subject_id == ana.pk and entry.key.startswith("event:")
    assert Message.objects.get().subject_id == ana.pk


def test_a_branch_on_the_customer_and_tag_and_webhook_actions(
    publish, richer_customer, customer, clock, committed, http_server, settings
):
    settings.TESSERA_WEBHOOK_SECRET = "hush"
    campaign = one_send("visit")
    campaign["start"] = "is_vip"
    campaign["nodes"]["is_vip"] = {
        "type": "branch",
        "condition": {"field": "vip", "op": "eq", "value": True},
        "then": "tag_vip",
        "else": "mail",
    }
    campaign["nodes"]["tag_vip"] = {
        "type": "action",
        "actions": [
            {"type": "add_tag", "params": {"tag": "vip-visit"}},
            {
                "type": "webhook",
                "params": {
                    "url": f"{http_server.url}/crm/vip",
                    "payload": {"who": {"$record": "name"}},
                },
            },
        ],
        "next": "done",
    }
    publish("vip", campaign)
    vip, plain = customer("Vip", vip=True), customer("Plain", vip=False)
    with committed():
        event(vip, "visit")
        event(plain, "visit")
    clock.tick()  # the outbox: the webhook and the e-mail
    vip.refresh_from_db()
    plain.refresh_from_db()
    assert vip.data["tags"] == ["vip-visit"] and "tags" not in plain.data
    assert path(Run.objects.get(subject=vip)) == ["is_vip", "tag_vip", "done"]
    assert path(Run.objects.get(subject=plain)) == ["is_vip", "mail", "done"]
    (call,) = http_server.received
    assert call.path == "/crm/vip" and json.loads(call.body) == {"who": "Vip"}
    assert call.headers["Tessera-Signature"].startswith("sha256=")
    assert list(Message.objects.values_list("subject_id", flat=True)) == [plain.pk]


def test_branches_on_clicked_and_on_delivered(
    publish, customer, clock, committed, smtp_settings, client
):
    import re

    campaign = one_send("visit")
    nodes = campaign["nodes"]
    nodes["mail"]["next"] = "later"
    nodes["later"] = {"type": "wait", "for": "P1D", "next": "clicked"}
    nodes["clicked"] = {
        "type": "branch",
        "engagement": {"message": "mail", "is": "clicked"},
        "then": "thanks",
        "else": "delivered",
    }
    nodes["delivered"] = {
        "type": "branch",
        "engagement": {"message": "mail", "is": "delivered"},
        "then": "done",
        "else": "flag",
    }
    nodes["flag"] = {
        "type": "action",
        "actions": [{"type": "set_field", "params": {"field": "level", "value": "bronze"}}],
        "next": "done",
    }
    nodes["thanks"] = {**nodes["mail"], "next": "done"}
    nodes["thanks"]["message"] = {"subject": "Thanks, {{ record.name }}", "body": "Glad you came"}
    publish("clicks", campaign)
    clicker, reader, lost = customer("Clicker"), customer("Reader"), customer("Lost")
    with committed():
        for person in (clicker, reader, lost):
            event(person, "visit")
    # Lost's message never reaches the server: its outbox entry is not delivered
    from tessera.actions.models import OutboxEntry

    lost_key = Message.objects.get(subject_id=lost.pk).key
    OutboxEntry.objects.filter(key=lost_key).update(status="skipped")
    clock.tick()
    assert len(smtp_settings.received) == 2
    mail = next(m for m in smtp_settings.received if clicker.data["email"] in m.recipients)
    link = re.search(r"https://crm\.example\.com(/c/k/[^\s\"<>]+)", mail.text()).group(1)
    assert client.get(link).status_code == 302

    clock.advance(days=1, seconds=1)
    clock.tick()
    assert path(Run.objects.get(subject=clicker))[-3:] == ["clicked", "thanks", "done"]
    assert path(Run.objects.get(subject=reader))[-3:] == ["clicked", "delivered", "done"]
    assert path(Run.objects.get(subject=lost))[-4:] == ["clicked", "delivered", "flag", "done"]
    lost.refresh_from_db()
    assert lost.data["level"] == "bronze"
    assert [m.message["Subject"] for m in smtp_settings.received[2:]] == ["Thanks, Clicker"]
    numbers = campaigns.metrics("clicks")["nodes"]
    assert (numbers["clicked"]["entered"], numbers["thanks"]["entered"]) == (3, 1)
    assert (numbers["mail"]["sent"], numbers["mail"]["delivered"], numbers["mail"]["clicked"]) == (
        2,
        2,
        1,
    )
    assert Message.objects.get(subject_id=lost.pk).delivered_at is None


def test_the_branch_catches_a_buyer_the_goal_did_not_hear_of(
    publish, customer, clock, committed, smtp_settings
):
    publish("abandoned-cart")
    quiet = customer("Quiet buyer")
    with committed():
        event(quiet, "cart_abandoned", total=35)
    clock.advance(minutes=10)
    event(quiet, "order_placed", total=35)  # not committed: the observer never hears of it
    clock.advance(minutes=50, seconds=1)
    clock.tick()
    run = Run.objects.get(subject=quiet)
    assert run.status == "completed" and path(run) == ["wait_an_hour", "bought", "done"]
    assert smtp_settings.received == []
    numbers = campaigns.metrics("abandoned-cart")["nodes"]
    assert numbers["done"]["exited"] == 1 and numbers["remind"]["entered"] == 0


def test_templates_see_the_customers_fields_and_nothing_else(
    publish, customer, clock, committed, smtp_settings, settings
):
    settings.SECRET_KEY = "not-in-any-mail-" + "x" * 40
    for bad in ("{{ record.__class__ }}", "{% load static %}", '{% include "base.html" %}'):
        campaign = one_send("visit")
        campaign["nodes"]["mail"]["message"]["body"] = bad
        with pytest.raises(ValidationFailed) as caught:
            definitions.save_draft("campaign", "bad", campaign)
        assert [(e.path, e.code) for e in caught.value.errors] == [
            ("$.nodes.mail.message.body", "template")
        ], bad
    campaign = one_send("visit")
    campaign["nodes"]["mail"]["message"]["body"] = (
        "[{{ record.name }}|{{ record.id }}|{{ settings.SECRET_KEY }}|{{ request.user }}"
        "|{{ user }}]"
    )
    publish("safe", campaign)
    ana = customer("Ana <b>")
    customer("Other")
    with committed():
        event(ana, "visit")
    clock.tick()
    (mail,) = smtp_settings.received
    text = mail.text()
    assert f"[Ana <b>|{ana.pk}|||]" in text  # plain text is not escaped; nothing else resolves
    assert settings.SECRET_KEY not in text and "Other" not in text
