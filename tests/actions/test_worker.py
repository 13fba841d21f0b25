"""A real Celery worker delivers the outbox: a batch, then a kill -9 in the middle of one.

The worker is a ``celery -A tessera worker`` subprocess on the configured broker (the
embedded SQL broker, or Redis with ``CELERY_BROKER_URL``), on a queue of its own; it sends
e-mail to a real SMTP server and webhooks to a real HTTP server, both in this process. The
test process plays the tick: it calls the outbox's tick step, as beat's tick would.

What "exactly once" means here (docs/actions.md): every entry arrives, and an arrival is
repeated only for an entry that was being sent when its worker died (the effect reached the
receiver, the ``sent`` mark did not commit); the repeat carries the same delivery key.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
import uuid
from collections import Counter

import pytest
from celery import Celery
from django.db import transaction

from tessera.actions import dispatch, outbox
from tessera.actions import service as actions
from tessera.actions.models import OutboxEntry, OutboxStatus
from tessera.records import service as records
from tests.worker import _delete_queue

WAIT = 120.0
LEASE = 3  # seconds: a dead worker's claim runs out quickly in this test


@pytest.fixture
def actions_env(celery_env, monkeypatch):
    """A queue of its own (no other test worker takes these messages), and a client for it."""
    env = dataclasses.replace(
        celery_env, queue=f"tessera-actions-{uuid.uuid4().hex[:10]}", procs=[]
    )
    client = Celery("tessera-actions-tests", set_as_current=False)
    client.conf.update(
        broker_url=env.broker_url,
        result_backend=env.result_backend,
        task_default_queue=env.queue,
        broker_connection_retry_on_startup=True,
    )
    monkeypatch.setattr(
        dispatch,
        "publish",
        lambda entry_id: client.send_task(dispatch.TASK, args=[entry_id], queue=env.queue),
    )
    yield env
    for proc in reversed(env.procs):
        proc.stop()
    client.close()
    _delete_queue(env)
    _clean_redis(env)


def _clean_redis(env) -> None:
    """Leave nothing of this test on a shared Redis broker.

    A fresh connection's ``queue_delete`` knows no bindings and deletes nothing there, so the
    queue's lists (with the duplicate messages the tick sent) go by name; a killed worker's
    unacked messages would come back onto the queue after an hour, so they go too.
    """
    if not env.broker_url.startswith(("redis://", "rediss://")):
        return
    import redis

    client = redis.Redis.from_url(env.broker_url)
    client.delete(env.queue)
    for pattern in (f"{env.queue}\x06\x16*", f"_kombu.binding*.{env.queue}"):
        for key in client.scan_iter(pattern):
            client.delete(key)
    for tag, raw in client.hgetall("unacked").items():
        if json.loads(raw)[2] == env.queue:  # [message, exchange, routing key]
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.close()


def start_worker(env, smtp_server, monkeypatch):
    """A real worker whose e-mail goes to the test's SMTP server; its lease is short."""
    monkeypatch.setenv("EMAIL_URL", f"smtp://{smtp_server.host}:{smtp_server.port}")
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", "shop@example.com")
    monkeypatch.setenv("TESSERA_ACTIONS_LEASE_SECONDS", str(LEASE))
    monkeypatch.setenv("TESSERA_ACTIONS_BACKOFF_SECONDS", "1")
    return env.start(
        "actions-worker",
        "worker",
        "--loglevel=INFO",
        "--concurrency=2",
        f"--hostname=actions-{env.queue}@%h",
        "--without-mingle",
        "--without-gossip",
        ready=" ready.",
    )


def enqueue_batch(customers, http_server, per_kind: int) -> list[str]:
    """``per_kind`` e-mails and as many webhooks, enqueued in one transaction; their keys."""
    keys = []
    with transaction.atomic():
        for i in range(per_kind):
            customer = customers[i % len(customers)]
            mail = {
                "type": "send_email",
                "params": {
                    "to": "email",
                    "subject": "Order news #{{ record.id }}",
                    "body": "Dear {{ record.name }}, message {{ record.points }}.",
                },
            }
            hook = {"type": "webhook", "params": {"url": f"{http_server.url}/orders"}}
            for kind, action in (("mail", mail), ("hook", hook)):
                key = f"batch:{kind}:{i}"
                actions.enqueue(key, action, object_key="customer", record_id=customer.pk)
                keys.append(key)
    return keys


def make_customers(n: int):
    return [
        records.create(
            "customer", {"name": f"Customer {i}", "email": f"c{i}@example.com", "points": i}
        )
        for i in range(n)
    ]


def wait_until(check, what: str, procs, *, tick: bool = False, every: float = 0.5) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}:\n{p.output()[-4000:]}" for p in procs)
            counts = Counter(OutboxEntry.objects.values_list("status", flat=True))
            pytest.fail(f"{what} not seen in {WAIT:.0f}s; outbox {dict(counts)}\n{logs}")
        if tick:
            outbox.redispatch_due()  # what beat's tick runs: sends what is due and not in flight
        time.sleep(every)


def all_final() -> bool:
    return not OutboxEntry.objects.exclude(
        status__in=[OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.SKIPPED]
    ).exists()


def arrivals(smtp_server, http_server) -> tuple[list[str], list[str]]:
    return smtp_server.keys(), http_server.keys()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_delivers_a_batch_once_each(
    actions_env, shop, smtp_server, http_server, monkeypatch, settings
):
    settings.TESSERA_ACTIONS = {"redispatch_seconds": 5}
    worker = start_worker(actions_env, smtp_server, monkeypatch)
    keys = enqueue_batch(make_customers(5), http_server, per_kind=15)

    wait_until(all_final, "every entry final", [worker], tick=True)

    mails, hooks = arrivals(smtp_server, http_server)
    statuses = Counter(OutboxEntry.objects.values_list("status", flat=True))
    print(
        f"\nbatch: {len(keys)} entries; e-mails {len(mails)} raw / {len(set(mails))} distinct; "
        f"webhooks {len(hooks)} raw / {len(set(hooks))} distinct; outbox {dict(statuses)}"
    )
    assert statuses == {OutboxStatus.SENT: len(keys)}
    assert sorted(mails + hooks) == sorted(keys)  # each once: no kill, no duplicate
    first = next(m for m in smtp_server.received if m.key == "batch:mail:0")
    assert first.text().strip() == "Dear Customer 0, message 0."


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_kill_9_mid_batch_then_restart_delivers_everything(
    actions_env, shop, smtp_server, http_server, monkeypatch, settings
):
    settings.TESSERA_ACTIONS = {"redispatch_seconds": 5}
    http_server.delay = 0.3  # a webhook is in flight most of the time: the kill lands in one
    worker = start_worker(actions_env, smtp_server, monkeypatch)
    keys = enqueue_batch(make_customers(5), http_server, per_kind=40)

    wait_until(
        lambda: sum(map(len, arrivals(smtp_server, http_server))) >= len(keys) // 3,
        "a third of the batch arriving",
        [worker],
        every=0.02,
    )
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool, no warm shutdown
    worker.popen.wait()
    at_kill = Counter(OutboxEntry.objects.values_list("status", flat=True))
    in_flight = set(
        OutboxEntry.objects.filter(status=OutboxStatus.SENDING).values_list("key", flat=True)
    )
    arrived_at_kill = sum(map(len, arrivals(smtp_server, http_server)))
    assert 0 < arrived_at_kill < len(keys), "the kill must land in the middle of the batch"

    restarted = start_worker(actions_env, smtp_server, monkeypatch)
    wait_until(all_final, "every entry final after the restart", [worker, restarted], tick=True)

    mails, hooks = arrivals(smtp_server, http_server)
    raw = mails + hooks
    repeated = {key for key, n in Counter(raw).items() if n > 1}
    statuses = Counter(OutboxEntry.objects.values_list("status", flat=True))
    print(
        f"\nkill -9 after {arrived_at_kill} of {len(keys)} arrivals; outbox at the kill "
        f"{dict(at_kill)}; in flight {sorted(in_flight)}\n"
        f"after restart: e-mails {len(mails)} raw / {len(set(mails))} distinct, webhooks "
        f"{len(hooks)} raw / {len(set(hooks))} distinct; arrivals {len(raw)} raw / "
        f"{len(set(raw))} distinct for {len(keys)} entries; repeated {sorted(repeated)}; "
        f"outbox {dict(statuses)}"
    )
    assert statuses == {OutboxStatus.SENT: len(keys)}
    assert set(raw) == set(keys)  # every e-mail and webhook arrived
    assert repeated <= in_flight  # a repeat only where the worker died mid-send
    assert len(raw) - len(set(raw)) <= 2  # at most one per pool process (concurrency 2)
