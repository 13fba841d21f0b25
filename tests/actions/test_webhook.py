"""webhook against a real local HTTP server: signature, idempotency header, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from django.conf import settings

from tessera.actions import service as actions
from tessera.actions.models import OutboxStatus


def hook(key: str, record, server, **params) -> object:
    action = {"type": "webhook", "params": {"url": server.url + "/hooks/crm", **params}}
    entry = actions.enqueue(
        key, action, object_key="customer", record_id=record.pk, context={"run": 7, "node": "n"}
    )
    actions.deliver(entry.pk)
    entry.refresh_from_db()
    return entry


def verify(arrival) -> bool:
    """What a receiver does: recompute the HMAC over timestamp + "." + body with the secret."""
    timestamp = arrival.headers["Tessera-Timestamp"]
    mac = hmac.new(
        settings.TESSERA_WEBHOOK_SECRET.encode(),
        timestamp.encode() + b"." + arrival.body,
        hashlib.sha256,
    ).hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest("sha256=" + mac, arrival.headers["Tessera-Signature"])


def test_a_signed_webhook_carries_the_record_and_its_key(li, http_server, dispatched):
    entry = hook("run:7:hook:1", li, http_server, headers={"X-Shop": "main"})
    assert entry.status == OutboxStatus.SENT and entry.result == {"status": 200}
    (got,) = http_server.received
    assert (got.method, got.path) == ("POST", "/hooks/crm")
    assert verify(got)
    assert got.headers["Tessera-Delivery"] == "run:7:hook:1"
    assert got.headers["Content-Type"] == "application/json" and got.headers["X-Shop"] == "main"
    body = json.loads(got.body)
    assert body["delivery"] == "run:7:hook:1" and body["record_id"] == li.pk
    assert body["record"]["name"] == "Li Lei" and body["context"] == {"run": 7, "node": "n"}


def test_a_tampered_body_does_not_verify(li, http_server, dispatched):
    hook("tamper:1", li, http_server)
    got = http_server.received[0]
    got.body = got.body.replace(b"Li Lei", b"Mallory")
    assert not verify(got)


def test_a_payload_with_references_and_another_method(li, http_server, dispatched):
    payload = {"customer": {"$record": "id"}, "email": {"$record": "email"}, "kind": "welcome"}
    hook("payload:1", li, http_server, method="PUT", payload=payload)
    (got,) = http_server.received
    assert got.method == "PUT"
    assert json.loads(got.body) == {
        "customer": li.pk,
        "email": "lilei@example.com",
        "kind": "welcome",
    }


def test_a_500_is_retried_then_succeeds(li, http_server, dispatched, fast_retries):
    http_server.statuses = [500]
    entry = hook("retry:1", li, http_server)
    assert (entry.status, entry.attempts) == (OutboxStatus.PENDING, 1)
    assert entry.last_error.startswith("RetryLater: HTTP 500")
    actions.deliver(entry.pk)
    entry.refresh_from_db()
    assert (entry.status, entry.attempts) == (OutboxStatus.SENT, 2)
    assert http_server.keys() == ["retry:1", "retry:1"]  # the same key: the receiver can tell
    assert [a.headers["Tessera-Attempt"] for a in http_server.received] == ["1", "2"]


def test_a_4xx_fails_after_one_attempt(li, http_server, dispatched, fast_retries):
    http_server.statuses = [422]
    entry = hook("bad:1", li, http_server)
    assert (entry.status, entry.attempts) == (OutboxStatus.FAILED, 1)
    assert entry.last_error.startswith("PermanentFailure: HTTP 422")
    actions.deliver(entry.pk)
    assert len(http_server.received) == 1


def test_429_honours_retry_after(li, http_server, dispatched):
    http_server.statuses = [429]
    http_server.extra_headers = {"Retry-After": "600"}
    before = time.time()
    entry = hook("slow:1", li, http_server)
    assert entry.status == OutboxStatus.PENDING
    assert entry.next_attempt_at.timestamp() - before >= 600


def test_backoff_ends_failed_then_a_retry_succeeds(li, http_server, dispatched, fast_retries):
    http_server.statuses = [503, 502, 500]
    entry = hook("give-up:1", li, http_server)
    for _ in range(4):  # the fourth finds it failed: nothing more without a person
        actions.deliver(entry.pk)
    entry.refresh_from_db()
    assert (entry.status, entry.attempts) == (OutboxStatus.FAILED, 3)
    assert "gave up after 3 attempts" in entry.last_error
    assert len(http_server.received) == 3

    actions.retry(entry.pk)
    actions.deliver(entry.pk)
    entry.refresh_from_db()
    assert (entry.status, entry.result) == (OutboxStatus.SENT, {"status": 200})
    assert len(http_server.received) == 4


def test_an_unreachable_endpoint_is_retried(li, dispatched, fast_retries):
    from tests.actions.conftest import free_port

    action = {"type": "webhook", "params": {"url": f"http://127.0.0.1:{free_port()}/x"}}
    entry = actions.enqueue("net:1", action, object_key="customer", record_id=li.pk)
    actions.deliver(entry.pk)
    entry.refresh_from_db()
    assert entry.status == OutboxStatus.PENDING and "network error" in entry.last_error


def test_a_redirect_is_not_followed(li, http_server, dispatched):
    http_server.statuses = [302]
    http_server.extra_headers = {"Location": "http://example.com/elsewhere"}
    entry = hook("redirect:1", li, http_server)
    assert entry.status == OutboxStatus.FAILED and "HTTP 302" in entry.last_error


def test_a_private_destination_is_refused_unless_its_host_is_allowed(
    li, http_server, dispatched, settings
):
    settings.TESSERA_WEBHOOK_ALLOW_PRIVATE = False
    settings.TESSERA_WEBHOOK_ALLOWED_HOSTS = []
    entry = hook("ssrf:1", li, http_server)  # http://127.0.0.1:<port>/hooks/crm
    assert entry.status == OutboxStatus.FAILED and entry.attempts == 1
    assert "resolves to 127.0.0.1, a private or reserved address" in entry.last_error
    assert "TESSERA_WEBHOOK_ALLOWED_HOSTS" in entry.last_error
    assert http_server.received == []

    settings.TESSERA_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    entry = hook("ssrf:2", li, http_server)
    assert entry.status == OutboxStatus.SENT
    assert http_server.keys() == ["ssrf:2"]


def test_metadata_and_private_networks_are_refused():
    import pytest

    from tessera.actions.builtins.destinations import check_destination
    from tessera.actions.types import PermanentFailure

    with override_private(False):
        for url in (
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.5:5432/",
            "http://[::1]/",
            "https://192.168.1.1/",
            "http://localhost:8000/",
        ):
            with pytest.raises(PermanentFailure):
                check_destination(url)
        check_destination("http://93.184.216.34/hook")  # a public address: no DNS needed


def override_private(allow: bool):
    from django.test import override_settings

    return override_settings(TESSERA_WEBHOOK_ALLOW_PRIVATE=allow, TESSERA_WEBHOOK_ALLOWED_HOSTS=[])
