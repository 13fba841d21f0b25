"""The tick fires durable timers through a REAL Celery worker process and broker.

SQLite with the embedded broker, or PostgreSQL with Redis (``CELERY_BROKER_URL``). The worker
here is started with ``--include tests.timers.worker_plugin`` (which registers the
``test.worker`` timer handler in it) on a queue of its own, so no other test worker of the
session takes its tasks (they would not know the handler).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator

import pytest
from django.db import connection
from django.utils import timezone

from tessera.timers import service as timers
from tessera.timers.handlers import handlers
from tessera.timers.models import Heartbeat, Timer
from tests.timers.worker_handlers import WORKER_HANDLER
from tests.worker import CeleryEnv, CeleryProcess

WAIT = 60.0
COUNT = 1200  # more than two batches of 500 on PostgreSQL


@pytest.fixture(scope="module")
def timers_env(celery_env: CeleryEnv) -> Iterator[CeleryEnv]:
    own = dataclasses.replace(
        celery_env, queue=f"{celery_env.queue}-timers-{uuid.uuid4().hex[:6]}", procs=[]
    )
    yield own
    for proc in reversed(own.procs):
        proc.stop()


@pytest.fixture(scope="module")
def timers_worker(timers_env: CeleryEnv) -> CeleryProcess:
    return timers_env.start(
        "timers-worker",
        "worker",
        "--loglevel=INFO",
        "--concurrency=2",
        f"--hostname=timers-{timers_env.queue}@%h",
        "--include=tests.timers.worker_plugin",
        "--without-mingle",
        "--without-gossip",
        ready=" ready.",
    )


@pytest.fixture(scope="module")
def timers_client(timers_env: CeleryEnv):
    from celery import Celery

    app = Celery("tessera-timers-tests", set_as_current=False)
    app.conf.update(
        broker_url=timers_env.broker_url,
        result_backend=timers_env.result_backend,
        task_default_queue=timers_env.queue,
        broker_connection_retry_on_startup=True,
    )
    yield app
    app.close()


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
