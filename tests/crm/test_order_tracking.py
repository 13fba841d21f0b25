"""An order's shipping timeline: in the sample data, and live as the shop's OMS pushes each
status through the signed ingestion endpoint, read back through GraphQL as staff see it."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from tessera.api import tokens
from tessera.exchange import ingest
from tessera.flows.campaigns.models import Entry
from tessera.records.models import Event, Record

from .conftest import when

pytestmark = pytest.mark.django_db

STEPS = [
    ("order_placed", "placed_at"),
    ("order_paid", "paid_at"),
    ("order_shipped", "shipped_at"),
    ("order_delivered", "delivered_at"),
    ("order_completed", "completed_at"),
]
TIMELINE = """query($id: ID!) { order(id: $id) { order_no status carrier tracking_no
    timeline(first: 50) { at kind type payload changes } } }"""


@pytest.fixture
def gql(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345678")
    raw, _ = tokens.issue(admin, "staff", ["read"])

    def run(query, variables):
        response = client.post(
            "/graphql",
            json.dumps({"query": query, "variables": variables}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        assert response.status_code == 200, response.content
        return response.json()["data"]

    return run


def test_a_sample_orders_timeline_follows_its_status_fields(shop, gql):
    order = next(o for o in shop.records("order") if o.data["status"] == "completed")
    events = list(Event.objects.filter(subject=order).order_by("occurred_at", "id"))
    assert [e.type for e in events] == [step for step, _ in STEPS]
    for event, (_, field) in zip(events, STEPS, strict=True):
        assert event.occurred_at == when(order.data[field])
    shipped = events[2].payload
    assert shipped == {"carrier": order.data["carrier"], "tracking_no": order.data["tracking_no"]}
    seen = gql(TIMELINE, {"id": str(order.pk)})["order"]
    assert (seen["status"], seen["tracking_no"]) == ("completed", order.data["tracking_no"])
    newest_first = [t["type"] for t in seen["timeline"] if t["kind"] == "event"]
    assert newest_first == [step for step, _ in reversed(STEPS)]
    customer_events = Event.objects.filter(subject_id=order.data["customer"])
    assert customer_events.filter(type="order_placed", payload__order_no=order.data["order_no"])
    assert customer_events.filter(type="order_delivered", payload__order_no=order.data["order_no"])


_sent = itertools.count()


def post(client, secret, object_key, payload):
    body = json.dumps(payload, ensure_ascii=False).encode()
    timestamp = str(int(time.time()) - 100 + next(_sent))
    response = client.post(
        f"/ingest/oms/{object_key}",
        data=body,
        content_type="application/json",
        HTTP_X_TESSERA_TIMESTAMP=timestamp,
        HTTP_X_TESSERA_SIGNATURE=ingest.sign(secret, timestamp, body),
    )
    assert response.status_code in (200, 201), response.content
    return response.json()


def test_the_oms_pushes_each_status_and_the_timeline_shows_it_live(shop, gql, client, committed):
    source, secret = ingest.create_source("oms", ["customer", "order"], name="Shop OMS")
    source.timezone = "Asia/Shanghai"
    source.save()
    customer = {
        "id": "C-9001",
        "data": {
            "name": "韩梅梅",
            "email": "meimei.live@example.com",
            "phone": "138 0013 9001",
            "city": "杭州",
        },
    }
    post(client, secret, "customer", customer)
    order = {
        "order_no": "SO-LIVE-1",
        "customer": {"ref": "C-9001"},
        "channel": "mini_program",
        "total": "¥399.00",
        "placed_at": "2026-06-18 20:05",
    }
    steps = [
        ({**order, "status": "placed"}, []),
        ({**order, "status": "paid", "paid_at": "2026-06-18 20:07"}, []),
        (
            {
                **order,
                "status": "shipped",
                "paid_at": "2026-06-18 20:07",
                "shipped_at": "2026-06-19 09:30",
                "carrier": "sf",
                "tracking_no": "SF1234567890",
            },
            [
                {
                    "id": "ship",
                    "type": "order_shipped",
                    "at": "2026-06-19 09:30",
                    "payload": {"carrier": "sf", "tracking_no": "SF1234567890"},
                }
            ],
        ),
        (
            {
                **order,
                "status": "delivered",
                "paid_at": "2026-06-18 20:07",
                "shipped_at": "2026-06-19 09:30",
                "carrier": "sf",
                "tracking_no": "SF1234567890",
                "delivered_at": "2026-06-20 14:00",
            },
            [{"id": "deliver", "type": "order_delivered", "at": "2026-06-20 14:00", "payload": {}}],
        ),
    ]
    for data, events in steps:
        post(client, secret, "order", {"id": "SO-LIVE-1", "data": data, "events": events})
    with committed():  # the shop tells the customer's timeline too: campaigns listen there
        post(
            client,
            secret,
            "customer",
            {
                **customer,
                "events": [
                    {"id": "d1", "type": "order_delivered", "payload": {"order_no": "SO-LIVE-1"}}
                ],
            },
        )
    record = Record.objects.get(object_key="order", data__order_no="SO-LIVE-1")
    seen = gql(TIMELINE, {"id": str(record.pk)})["order"]
    assert (seen["status"], seen["carrier"], seen["tracking_no"]) == (
        "delivered",
        "sf",
        "SF1234567890",
    )
    moves = [
        (t["payload"]["from"], t["payload"]["to"])
        for t in reversed(seen["timeline"])
        if t["type"] == "status_changed"
    ]
    assert moves == [
        (None, "placed"),
        ("placed", "paid"),
        ("paid", "shipped"),
        ("shipped", "delivered"),
    ]
    typed = [t for t in seen["timeline"] if t["type"] in ("order_shipped", "order_delivered")]
    assert [t["type"] for t in typed] == ["order_delivered", "order_shipped"]
    assert typed[1]["payload"]["tracking_no"] == "SF1234567890"
    assert typed[1]["at"].startswith("2026-06-19T01:30")  # 09:30 in Shanghai
    changes = [t for t in seen["timeline"] if t["kind"] == "change"]
    assert len(changes) == 4  # created, then one version per status
    # delivery starts the post-purchase campaigns for this customer
    person = Record.objects.get(object_key="customer", data__email="meimei.live@example.com")
    assert set(Entry.objects.filter(subject=person).values_list("campaign_key", flat=True)) == {
        "repurchase",
        "review-request",
    }
