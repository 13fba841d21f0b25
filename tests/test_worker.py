"""Real Celery processes: a worker answers tasks from the broker, beat sends the tick.

The processes are subprocesses (see ``tests/worker.py``) on the configured broker: the
embedded SQL broker on SQLite runs, Redis (or RabbitMQ) when ``CELERY_BROKER_URL`` says so;
they write to the test database through their own connections.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from tessera.timers.models import Heartbeat

RESULT_TIMEOUT = 30.0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_answers_ping_and_writes_heartbeat(celery_worker_process, celery_client):
    token = uuid.uuid4().hex
    result = celery_client.send_task("tessera.timers.ping", args=[token])
    try:
        answer = result.get(timeout=RESULT_TIMEOUT)
    except Exception as exc:  # show what the worker said
        pytest.fail(f"no answer to ping ({exc!r}):\n{celery_worker_process.output()}")

    assert answer["token"] == token
    assert answer["pid"] != os.getpid()
    assert answer["pid"] != celery_worker_process.pid  # a prefork pool child did the work
    hb = Heartbeat.objects.get(name="worker")
    assert hb.beats >= 1
    assert hb.detail["pid"] == answer["pid"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_runs_the_tick(celery_worker_process, celery_client):
    result = celery_client.send_task("tessera.timers.tick")
    try:
        steps = result.get(timeout=RESULT_TIMEOUT)
    except Exception as exc:
        pytest.fail(f"no answer to tick ({exc!r}):\n{celery_worker_process.output()}")

    assert isinstance(steps, dict)  # one entry per registered tick step
    hb = Heartbeat.objects.get(name="tick")
    assert hb.beats == 1
    assert hb.detail["pid"] != os.getpid()

    celery_client.send_task("tessera.timers.tick").get(timeout=RESULT_TIMEOUT)
    hb.refresh_from_db()
    assert hb.beats == 2  # the same row, counted up


def test_beat_schedule_registers_the_tick(settings):
    """The on_after_finalize hook puts the tick (and the worker ping) in beat's schedule."""
    from tessera.celery import app

    app.loader.import_default_modules()  # what worker and beat do at start: autodiscovery
    app.finalize()
    schedule = app.conf.beat_schedule
    assert schedule["tick"]["task"] == "tessera.timers.tick"
    assert schedule["tick"]["schedule"] == settings.TESSERA_TICK_SECONDS
    assert schedule["worker-ping"]["task"] == "tessera.timers.ping"
    for entry in (schedule["tick"], schedule["worker-ping"]):
        assert entry["options"]["ignore_result"] is True
        assert entry["options"]["expires"] >= 2 * settings.TESSERA_TICK_SECONDS
    assert {"tessera.timers.tick", "tessera.timers.ping"} <= set(app.tasks)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_celery_beat_sends_the_tick_to_the_worker(celery_env, celery_worker_process):
    """A real ``celery beat`` (1 s tick) makes the worker beat, with no task sent by the test."""
    Heartbeat.objects.all().delete()
    beat = celery_env.start(
        "beat",
        "beat",
        "--loglevel=INFO",
        f"--schedule={celery_env.var_dir / 'celerybeat-schedule'}",
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            tick = Heartbeat.objects.filter(name="tick").first()
            worker = Heartbeat.objects.filter(name="worker").first()
            if tick and worker:
                break
            if beat.popen.poll() is not None:
                pytest.fail(f"celery beat exited ({beat.popen.returncode}):\n{beat.output()}")
            time.sleep(0.2)
        else:
            pytest.fail(
                "beat's tick did not reach the worker in 30s\n--- beat:\n"
                f"{beat.output()}\n--- worker:\n{celery_worker_process.output()}"
            )
        assert "Sending due task tick (tessera.timers.tick)" in beat.output()
        assert tick.detail["pid"] not in (os.getpid(), beat.pid)
    finally:
        beat.stop()
