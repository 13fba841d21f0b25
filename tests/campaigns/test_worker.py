"""A real worker runs a campaign and is killed -9 in the middle: nobody lost, nobody messaged twice.

The worker is a ``celery -A tessera worker`` subprocess on the configured broker (Redis with
``CELERY_BROKER_URL``), on a queue of its own, sending e-mail to a real SMTP server in this
process. This process plays beat's tick (timers, the outbox's redispatch, the campaign step).
A broadcast hands 80 customers out in batches of 2 (small, so that the first kill lands while
they are let in even on a busy machine); each customer gets a welcome e-mail, waits two
seconds, and gets a second one. The worker is killed twice (the whole process group, no warm
shutdown): once as soon as the first batch of customers is in, while the others are being let
in; then, restarted, once half the e-mails have arrived. Then it starts again.

What must hold: every customer entered once and finished; every customer got both e-mails;
an e-mail arrives twice only if its send was in flight at the kill, and then with the same
Message-ID (the receiver sees one message).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
import uuid
from collections import Counter

import pytest
from celery import Celery

from tessera.actions import dispatch, outbox
from tessera.actions.models import OutboxEntry, OutboxStatus
from tessera.definitions import service as definitions
from tessera.flows.campaigns import service as campaigns
from tessera.flows.campaigns import tasks
from tessera.flows.campaigns.models import Entry, Message
from tessera.flows.models import Run
from tessera.records import service as records
from tessera.timers import service as timers
from tests.worker import _delete_queue

from .conftest import example

WAIT = 300.0
LEASE = 3
PEOPLE = 80
CAMPAIGN = {
    "object": "customer",
    "trigger": {"type": "broadcast", "segment": "everyone"},
    "start": "hello",
    "nodes": {
        "hello": {
            "type": "send",
            "channel": "email",
            "message": {"subject": "Welcome, {{ record.name }}", "body": "Hello!"},
            "next": "pause",
        },
        "pause": {"type": "wait", "for": "PT2S", "next": "again"},
        "again": {
            "type": "send",
            "channel": "email",
            "message": {"subject": "Still there, {{ record.name }}?", "body": "Hello again!"},
            "next": "done",
        },
        "done": {"type": "end"},
    },
}


@pytest.fixture
def campaign_env(celery_env, monkeypatch, settings):
    """A queue of its own; what this process sends (tasks, outbox entries) goes there."""
    env = dataclasses.replace(celery_env, queue=f"tessera-camp-{uuid.uuid4().hex[:10]}", procs=[])
    client = Celery("tessera-campaign-tests", set_as_current=False)
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
    for task in (tasks.enter_broadcast_batch, tasks.release, tasks.process_events,
                 tasks.check_goals, tasks.scheduled, tasks.sweep):  # fmt: skip
        name = task.name
        monkeypatch.setattr(
            task,
            "delay",
            lambda *args, _name=name: client.send_task(_name, args=args, queue=env.queue),
        )
    settings.TESSERA_ACTIONS = {"redispatch_seconds": 5}
    settings.TESSERA_CAMPAIGNS = {"redispatch_seconds": 5, "batch": 2}
    settings.TESSERA_BASE_URL = "https://crm.example.com"
    yield env
    for proc in reversed(env.procs):
        proc.stop()
    client.close()
    _delete_queue(env)


def start_worker(env, smtp_server, monkeypatch):
    monkeypatch.setenv("EMAIL_URL", f"smtp://{smtp_server.host}:{smtp_server.port}")
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", "shop@example.com")
    monkeypatch.setenv("TESSERA_ACTIONS_LEASE_SECONDS", str(LEASE))
    monkeypatch.setenv("TESSERA_ACTIONS_BACKOFF_SECONDS", "1")
    return env.start(
        "campaign-worker",
        "worker",
        "--loglevel=INFO",
        "--concurrency=2",
        f"--hostname=campaign-{env.queue}@%h",
        "--without-mingle",
        "--without-gossip",
        ready=" ready.",
    )


def kill(worker, smtp_server) -> dict:
    """kill -9 the worker's whole process group; what the database and the server had then."""
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool, no warm shutdown
    worker.popen.wait()
    return {
        "entries": Entry.objects.count(),
        "mails": len(smtp_server.received),
        "outbox": dict(Counter(OutboxEntry.objects.values_list("status", flat=True))),
        "in_flight": set(
            OutboxEntry.objects.filter(status=OutboxStatus.SENDING).values_list("key", flat=True)
        ),
    }


def tick() -> None:
    """What beat's tick runs, here in the test process."""
    timers.fire_due()
    outbox.redispatch_due()
    tasks.tick_step()


def wait_until(check, what: str, procs, *, ticking: bool = False, every: float = 0.3) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}:\n{p.output()[-4000:]}" for p in procs)
            runs = Counter(Run.objects.values_list("status", "node"))
            pytest.fail(f"{what} not seen in {WAIT:.0f}s; runs {dict(runs)}\n{logs}")
        if ticking:
            tick()
        time.sleep(every)


def finished() -> bool:
    done = Run.objects.filter(flow_key="kill", status="completed").count() == PEOPLE
    return (
        done
        and not OutboxEntry.objects.exclude(
            status__in=[OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.SKIPPED]
        ).exists()
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_kill_9_mid_campaign_then_restart_loses_nobody_and_messages_nobody_twice(
    campaign_env, smtp_server, monkeypatch
):
    customer = example("customer")
    definitions.save_and_publish("object", "customer", customer["body"])
    definitions.save_and_publish(
        "segment",
        "everyone",
        {"object": "customer", "condition": {"field": "name", "op": "is_set"}},
    )
    definitions.save_and_publish("campaign", "kill", CAMPAIGN)
    people = [
        records.create("customer", {"name": f"C{i}", "email": f"c{i}@example.com"})
        for i in range(PEOPLE)
    ]
    worker = start_worker(campaign_env, smtp_server, monkeypatch)
    assert campaigns.run_scheduled("kill") == PEOPLE  # the hand-out: 40 batches to the worker

    wait_until(lambda: Entry.objects.exists(), "the first batch in", [worker], every=0.01)
    first = kill(worker, smtp_server)
    assert first["entries"] < PEOPLE, "the first kill must land while customers are let in"

    again = start_worker(campaign_env, smtp_server, monkeypatch)
    wait_until(
        lambda: len(smtp_server.received) >= PEOPLE // 2, "half the e-mails", [again],
        ticking=True, every=0.02,
    )  # fmt: skip
    second = kill(again, smtp_server)
    assert second["mails"] < 2 * PEOPLE, "the second kill must land while e-mails go out"

    restarted = start_worker(campaign_env, smtp_server, monkeypatch)
    wait_until(finished, "every customer through", [worker, again, restarted], ticking=True)
    in_flight = first["in_flight"] | second["in_flight"]

    keys = smtp_server.keys()
    repeated = {key for key, n in Counter(keys).items() if n > 1}
    pairs = {(m.recipients[0], m.message["Message-ID"]) for m in smtp_server.received}
    per_person = Counter(address for address, _ in pairs)
    print(
        f"\nfirst kill -9 at {first}\nsecond kill -9 at {second}\n"
        f"after restart: {Entry.objects.count()} entries for {PEOPLE} customers, runs "
        f"{dict(Counter(Run.objects.values_list('status', flat=True)))}; e-mails {len(keys)} raw"
        f" / {len(set(keys))} distinct for {2 * PEOPLE} expected; repeated {sorted(repeated)}"
    )
    assert Entry.objects.count() == PEOPLE
    assert set(Entry.objects.values_list("subject_id", flat=True)) == {p.pk for p in people}
    assert Counter(Message.objects.values_list("status", flat=True)) == {"sent": 2 * PEOPLE}
    assert len(set(keys)) == 2 * PEOPLE  # everyone got both e-mails
    assert set(per_person.values()) == {2}  # two distinct messages each, never three
    assert repeated <= in_flight  # a raw repeat only where the worker died mid-send
    assert len(keys) - len(set(keys)) <= 4  # at most one per pool process and kill
