"""Signed ingestion over the real view: signatures, timestamps, replays, idempotency by
external id, order status on the timeline, bulk payloads, bad input as 4xx by JSON path."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from tessera.exchange import ingest
from tessera.exchange.models import Source
from tessera.records.models import Event, Record

URL = "/ingest/shop/{}"


@pytest.fixture
def source(shop):
    found, secret = ingest.create_source("shop", ["customer", "order"], name="Shop OMS")
    found.timezone = "Asia/Shanghai"
    found.save()
    return found, secret


_sent = itertools.count()


def post(client, secret, object_key, payload, *, timestamp=None, signature=None, raw=None):
    """A signed POST; each is sent at a later second (within the window), as a retry is."""
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
    if timestamp is None:
        timestamp = int(time.time()) - 100 + next(_sent) % 200
    timestamp = str(timestamp)
    headers = {
        "HTTP_X_TESSERA_TIMESTAMP": timestamp,
        "HTTP_X_TESSERA_SIGNATURE": signature or ingest.sign(secret, timestamp, body),
    }
    return client.post(
        URL.format(object_key), data=body, content_type="application/json", **headers
    )


CUSTOMER = {"id": "C-77", "data": {"name": "韩梅梅", "phone": "138 0013 8000", "city": "杭州"}}


def test_the_key_is_stored_encrypted_and_usable(source):
    found, secret = source
    stored = Source.objects.get(pk=found.pk).secret_encrypted
    assert secret not in stored and ingest.secret_of(found) == secret


def test_the_same_item_twice_changes_nothing_and_a_changed_one_updates(client, source):
    _, secret = source
    first = post(client, secret, "customer", CUSTOMER)
    assert first.status_code == 201, first.json()
    record = Record.objects.get(pk=first.json()["record"])
    assert record.data["phone"] == "+8613800138000"
    again = post(client, secret, "customer", CUSTOMER)
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    record.refresh_from_db()
    assert record.version == 1
    changed = {"id": "C-77", "data": {**CUSTOMER["data"], "city": "Hangzhou", "points": "1,200"}}
    updated = post(client, secret, "customer", changed)
    assert updated.json() == {"id": "C-77", "status": "updated", "record": record.pk}
    record.refresh_from_db()
    assert (record.version, record.data["city"], record.data["points"]) == (2, "Hangzhou", 1200)
    assert Record.objects.filter(object_key="customer").count() == 1


def test_wrong_signature_old_timestamp_replay_and_missing_headers_are_refused(client, source):
    found, secret = source
    body = json.dumps(CUSTOMER).encode()
    wrong = post(client, "not-the-key", "customer", CUSTOMER)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "signature"
    old = int(time.time()) - 3600
    stale = post(client, secret, "customer", CUSTOMER, timestamp=old)
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "stale"
    future = post(client, secret, "customer", CUSTOMER, timestamp=int(time.time()) + 3600)
    assert future.status_code == 401
    now = str(int(time.time()))
    signature = ingest.sign(secret, now, body)
    assert post(client, secret, "customer", None, raw=body, timestamp=now).status_code == 201
    replay = post(client, secret, "customer", None, raw=body, timestamp=now, signature=signature)
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "replay"
    tampered = body.replace(b"C-77", b"C-78")
    changed = post(
        client, secret, "customer", None, raw=tampered, timestamp=now, signature=signature
    )
    assert changed.status_code == 401
    bare = client.post(URL.format("customer"), data=body, content_type="application/json")
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "unsigned"
    assert client.get(URL.format("customer")).status_code == 405
    assert Record.objects.count() == 1
    unknown = client.post("/ingest/nobody/customer", data=body, content_type="application/json")
    assert unknown.status_code == 404
    found.objects_allowed = ["customer"]
    found.save()
    denied = post(client, secret, "order", {"id": "O-1", "data": {}})
    assert denied.status_code == 403


def test_order_status_updates_go_on_the_order_timeline(client, source):
    _, secret = source
    assert post(client, secret, "customer", CUSTOMER).status_code == 201
    order = {
        "id": "SO-1001",
        "data": {
            "customer": {"ref": "C-77"},
            "total": "¥399.00",
            "status": "paid",
            "placed_at": "2024/5/2 12:00",
        },
    }
    made = post(client, secret, "order", order)
    assert made.status_code == 201, made.json()
    record = Record.objects.get(pk=made.json()["record"])
    customer = Record.objects.get(object_key="customer")
    assert record.data["customer"] == customer.pk and record.data["total"] == 399
    assert record.data["placed_at"] == "2024-05-02T04:00:00.000000Z"  # the source's zone
    order["data"]["status"] = "shipped"
    order["events"] = [{"id": "trk-1", "type": "parcel_scanned", "payload": {"hub": "HZ"}}]
    assert post(client, secret, "order", order).json()["status"] == "updated"
    assert post(client, secret, "order", order).json()["status"] == "unchanged"
    timeline = list(
        Event.objects.filter(subject=record).order_by("id").values_list("type", "payload")
    )
    assert timeline == [
        ("status_changed", {"from": None, "to": "paid", "source": "shop"}),
        ("status_changed", {"from": "paid", "to": "shipped", "source": "shop"}),
        ("parcel_scanned", {"hub": "HZ"}),
    ]


def test_a_bulk_payload_gives_a_result_per_item_and_bad_items_their_paths(client, source):
    _, secret = source
    items = [
        {"id": "C-1", "data": {"name": "Ana", "email": "ana@example.com"}},
        {"id": "C-2", "data": {"name": "Bo", "points": "many"}},
        {"id": "C-3", "data": {"name": "Cy", "nope": 1}},
        {"id": "C-4", "data": {"city": "Ningbo"}},
        "not an item",
        {"id": "C-1", "data": {"name": "Ana", "email": "ana@example.com"}},
    ]
    response = post(client, secret, "customer", items)
    assert response.status_code == 200
    body = response.json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["created", "refused", "refused", "refused", "refused", "unchanged"]
    paths = [[e["path"] for e in r.get("errors", [])] for r in body["results"]]
    assert paths[1] == ["$[1].data.points"]
    assert paths[2] == ["$[2].data.nope"]
    assert paths[3] == ["$[3].data.name"]
    assert paths[4] == ["$[4]"]
    assert body["counts"] == {"created": 1, "refused": 4, "unchanged": 1}
    assert Record.objects.filter(object_key="customer").count() == 1


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"{not json", 400, "json"),
        (b"[]", 400, "items"),
        (b'"text"', 400, "json"),
        (b"\xff\xfe", 400, "json"),
    ],
)
def test_a_body_that_is_not_items_is_a_400(client, source, raw, status, code):
    _, secret = source
    response = post(client, secret, "customer", None, raw=raw)
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_text_no_database_can_store_is_refused_by_path(client, source):
    _, secret = source
    response = post(client, secret, "customer", {"id": "C-9", "data": {"name": "a\u0000b"}})
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"].startswith("$.data.name")
    response = post(
        client, secret, "customer", {"id": "C-9", "data": {"name": "x"}, "events": [{"type": 5}]}
    )
    assert response.status_code == 422 and response.json()["errors"][0]["path"] == "$.events[0]"
    assert Record.objects.count() == 0


def test_old_signatures_are_forgotten_by_the_tick(source):
    import datetime as dt

    from django.utils import timezone

    from tessera.exchange.models import Delivery

    found, _ = source
    old = Delivery.objects.create(source=found, signature="a" * 64)
    Delivery.objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(hours=1))
    recent = Delivery.objects.create(source=found, signature="b" * 64)
    assert ingest.forget_old_deliveries() == 1
    assert list(Delivery.objects.values_list("pk", flat=True)) == [recent.pk]
