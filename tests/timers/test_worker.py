"""The tick fires durable timers through a REAL Celery worker process and broker.

SQLite with the embedded broker, or PostgreSQL with Redis (``CELERY_BROKER_URL``). The worker
here is started with ``--include tests.timers.worker_plugin`` (which registers the
``test.worker`` timer handler in it) on a queue of its own, so no other test worker of the
session takes its tasks (they would not know the handler).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
import uuid
from collections.abc import Iterator

import pytest
from django.db import connection
from django.utils import timezone

from tessera.timers import service as timers
from tessera.timers.handlers import handlers
from tessera.timers.models import Heartbeat, Timer
from tests.timers.worker_handlers import SLOW_HANDLER, WORKER_HANDLER
from tests.worker import CeleryEnv, CeleryProcess

WAIT = 60.0
COUNT = 1200  # more than two batches of 500 on PostgreSQL


def own_queue(celery_env: CeleryEnv) -> CeleryEnv:
    """The session's broker and database, a queue no other worker listens to."""
    return dataclasses.replace(
        celery_env, queue=f"{celery_env.queue}-timers-{uuid.uuid4().hex[:6]}", procs=[]
    )


def client_for(env: CeleryEnv):
    from celery import Celery

    app = Celery("tessera-timers-tests", set_as_current=False)
    app.conf.update(
        broker_url=env.broker_url,
        result_backend=env.result_backend,
        task_default_queue=env.queue,
        broker_connection_retry_on_startup=True,
    )
    return app


@pytest.fixture(scope="module")
def timers_env(celery_env: CeleryEnv) -> Iterator[CeleryEnv]:
    own = own_queue(celery_env)
    yield own
    for proc in reversed(own.procs):
        proc.stop()


def start_worker(env: CeleryEnv, concurrency: int = 2) -> CeleryProcess:
    return env.start(
        "timers-worker",
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        f"--hostname=timers-{uuid.uuid4().hex[:6]}-{env.queue}@%h",
        "--include=tests.timers.worker_plugin",
        "--without-mingle",
        "--without-gossip",
        ready=" ready.",
    )


@pytest.fixture(scope="module")
def timers_worker(timers_env: CeleryEnv) -> CeleryProcess:
    return start_worker(timers_env)


@pytest.fixture(scope="module")
def timers_client(timers_env: CeleryEnv):
    app = client_for(timers_env)
    yield app
    app.close()


@pytest.fixture
def lone_env(celery_env: CeleryEnv) -> Iterator[tuple[CeleryEnv, object]]:
    """A queue for one test's own workers only (none of the module's), and its client."""
    env = own_queue(celery_env)
    app = client_for(env)
    yield env, app
    app.close()
    for proc in reversed(env.procs):
        proc.stop()


def tick(client, worker: CeleryProcess) -> dict:
    try:
        return client.send_task("tessera.timers.tick").get(timeout=WAIT)
    except Exception as exc:
        pytest.fail(f"no answer to the tick ({exc!r}):\n{worker.output()}")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_tick_fires_due_timers_through_a_real_worker(timers_worker, timers_client):
    with handlers.register_temporarily(WORKER_HANDLER):
        ids = [
            timers.schedule("test.worker", timezone.now(), owner=f"run:{i}").pk
            for i in range(COUNT)
        ]
        later = timers.schedule("test.worker", timezone.now().replace(year=2099), owner="x")

    first = tick(timers_client, timers_worker)["due_timers"]
    if connection.vendor == "postgresql":
        # one batch in the tick; the rest shared out as fire_due tasks, with no further tick
        assert (first["claimed"], first["fanned_out"]) == (500, 2)
    else:
        # one writer: no fan-out; the tick fires small batches for up to a tick interval,
        # and the next ticks go on where it stopped
        assert first["fanned_out"] == 0 and first["claimed"] > 0
    deadline = time.monotonic() + WAIT
    while Timer.objects.exclude(pk=later.pk).exists():
        if time.monotonic() > deadline:
            pytest.fail(f"due timers left after {WAIT:.0f}s:\n{timers_worker.output()}")
        if connection.vendor == "sqlite":
            tick(timers_client, timers_worker)
        time.sleep(0.2)

    beats = dict(Heartbeat.objects.filter(name__startswith="timer-").values_list("name", "beats"))
    assert beats == {f"timer-{pk}": 1 for pk in ids}  # every timer fired, each exactly once
    assert list(Timer.objects.values_list("pk", flat=True)) == [later.pk]
    if connection.vendor == "postgresql":
        assert "tessera.timers.fire_due" in timers_worker.output()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_leaves_every_timer_to_fire_once_after_a_restart(
    lone_env, tmp_path
):
    """kill -9 while a batch is half fired: its transaction dies with the worker, so none of
    the batch's writes (nor its deletes) stay; a new worker fires each timer exactly once.
    What the handler did outside the database before the kill happens again: that is what
    the actions' outbox is for."""
    env, client = lone_env
    log = tmp_path / "started.log"
    with handlers.register_temporarily(SLOW_HANDLER):
        ids = [
            timers.schedule(
                "test.worker.slow",
                timezone.now(),
                owner=f"run:{i}",
                payload={"log": str(log), "sleep": 0.2},
            ).pk
            for i in range(20)
        ]
    first = start_worker(env, concurrency=1)
    client.send_task("tessera.timers.tick")
    deadline = time.monotonic() + WAIT
    while not log.exists() or len(log.read_text().split()) < 5:
        if time.monotonic() > deadline:
            pytest.fail(f"the batch did not start:\n{first.output()}")
        time.sleep(0.05)
    os.killpg(first.popen.pid, signal.SIGKILL)
    first.popen.wait()
    started_before_kill = set(map(int, log.read_text().split()))

    # the half-fired batch left nothing: every timer pending, no handler write kept
    assert Timer.objects.filter(pk__in=ids, status="pending", attempts=0).count() == 20
    assert not Heartbeat.objects.filter(name__startswith="timer-").exists()

    second = start_worker(env, concurrency=1)
    try:
        deadline = time.monotonic() + WAIT
        while Timer.objects.filter(pk__in=ids).exists():
            if time.monotonic() > deadline:
                pytest.fail(f"timers left after the restart:\n{second.output()}")
            tick(client, second)
            time.sleep(0.2)
    finally:
        second.stop()
    beats = dict(Heartbeat.objects.filter(name__startswith="timer-").values_list("name", "beats"))
    assert beats == {f"timer-{pk}": 1 for pk in ids}
    started = list(map(int, log.read_text().split()))
    assert {pk for pk in started if started.count(pk) == 2} == started_before_kill
    print(f"killed after {len(started_before_kill)} of 20 had started; all 20 fired once after")
