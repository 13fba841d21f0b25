"""An import in a REAL Celery worker, killed with SIGKILL half-way, resumed by a restarted
worker: every row stored exactly once (SQLite + embedded broker, PostgreSQL + Redis)."""

from __future__ import annotations

import copy
import dataclasses
import os
import signal
import time
import uuid

import pytest

from tessera.definitions import service as definitions
from tessera.exchange import jobs
from tessera.exchange.models import ImportJob, ImportStatus
from tessera.records.models import BulkCreation, Record
from tests.exchange.conftest import SHOP_CUSTOMER
from tests.worker import CeleryEnv, CeleryProcess

WAIT = 120.0
ROWS = 1500


def start_worker(env: CeleryEnv) -> CeleryProcess:
    return env.start(
        "import-worker",
        "worker",
        "--loglevel=INFO",
        "--concurrency=1",
        f"--hostname=import-{uuid.uuid4().hex[:6]}-{env.queue}@%h",
        "--include=tests.exchange.worker_plugin",
        "--without-mingle",
        "--without-gossip",
        ready=" ready.",
    )


@pytest.fixture
def import_env(celery_env: CeleryEnv, monkeypatch):
    """A queue of its own; workers taking chunks of 50 rows, stale after 2 s of silence."""
    monkeypatch.setenv("TESSERA_IMPORT_CHUNK_ROWS", "50")
    monkeypatch.setenv("TESSERA_IMPORT_STALE_SECONDS", "2")
    env = dataclasses.replace(
        celery_env, queue=f"{celery_env.queue}-import-{uuid.uuid4().hex[:6]}", procs=[]
    )
    from celery import Celery

    app = Celery("tessera-import-tests", set_as_current=False)
    app.conf.update(
        broker_url=env.broker_url,
        result_backend=env.result_backend,
        task_default_queue=env.queue,
        broker_connection_retry_on_startup=True,
    )
    yield env, app
    app.close()
    for proc in reversed(env.procs):
        proc.stop()


def wait_until(check, what: str, worker: CeleryProcess) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within {WAIT:.0f}s:\n{worker.output()[-5000:]}")
        time.sleep(0.1)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_import_killed_mid_way_resumes_without_duplicating_rows(import_env, tmp_path):
    env, client = import_env
    definitions.save_and_publish("object", "customer", copy.deepcopy(SHOP_CUSTOMER))
    path = tmp_path / "customers.csv"
    lines = ["姓名,手机,城市"] + [f"客户{i},1380000{i:04d},杭州" for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    job = jobs.create_job(
        path, "customer", {"姓名": "name", "手机": "phone", "城市": "city"}, key_fields=["phone"]
    )

    first = start_worker(env)
    client.send_task("tessera.exchange.run_import", args=[job.pk])

    def half_way() -> bool:
        done = ImportJob.objects.get(pk=job.pk).rows_done
        return done >= 200

    wait_until(half_way, "200 rows", first)
    os.killpg(first.popen.pid, signal.SIGKILL)
    first.popen.wait()

    killed = ImportJob.objects.get(pk=job.pk)
    assert killed.status == ImportStatus.RUNNING and killed.rows_done < ROWS
    # only whole chunks stayed: the records are exactly the rows the cursor says are done
    assert Record.objects.filter(object_key="customer").count() == killed.created
    assert killed.created == killed.rows_done and killed.rows_done % 50 == 0

    second = start_worker(env)
    time.sleep(2.5)  # the job's heartbeat goes stale; the tick sends it again
    client.send_task("tessera.timers.tick").get(timeout=WAIT)
    wait_until(
        lambda: ImportJob.objects.get(pk=job.pk).status == ImportStatus.DONE,
        "the resumed import",
        second,
    )
    done = ImportJob.objects.get(pk=job.pk)
    assert (done.rows_done, done.created, done.rejected) == (ROWS, ROWS, 0)
    assert done.attempts >= 2
    stored = Record.objects.filter(object_key="customer")
    assert stored.count() == ROWS
    assert len({r.data["phone"] for r in stored}) == ROWS
    runs = BulkCreation.objects.filter(comment=f"import #{job.pk}")
    ids = [i for run in runs for i in range(run.first_id, run.last_id + 1)]
    assert sorted(ids) == sorted(stored.values_list("pk", flat=True))  # each noted once
    print(f"killed at {killed.rows_done} of {ROWS} rows; resumed to {ROWS}, none twice")
