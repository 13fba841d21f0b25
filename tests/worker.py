"""Fixtures that run real Celery processes against the test database (a pytest plugin).

Loaded from ``tests/conftest.py`` through ``pytest_plugins``. The processes are real
``celery -A tessera worker`` / ``beat`` subprocesses: they import the project as production does,
take messages from a real broker and write through their own database connection.

- **Database.** A subprocess must open the very database the tests read, so on SQLite the test
  database is a file (not Django's in-memory default): ``django_db_modify_db_settings`` below
  points ``DATABASES["default"]["TEST"]["NAME"]`` at a file in pytest's temporary directory.
  On PostgreSQL the test database (``test_<name>``) is already reachable by URL. Either way the
  subprocess gets ``DATABASE_URL`` of the test database. Tests that read what a worker wrote
  use ``@pytest.mark.django_db(transaction=True)``: a test wrapped in a transaction would hold
  SQLite's write lock, and would not see the worker's commits on PostgreSQL.
- **Broker.** The configured one: the embedded SQL broker (a fresh file per session, so a
  running ``./tessera up`` is never disturbed) or Redis / RabbitMQ when ``CELERY_BROKER_URL``
  points there. Each session uses its own queue name, so another worker on the same broker
  never takes the tests' messages.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory
):
    """Keep a SQLite test database in a file, so that worker subprocesses can open it."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        test = db.setdefault("TEST", {})
        if test.get("NAME") in (None, "", ":memory:"):
            test["NAME"] = str(tmp_path_factory.mktemp("db") / "test_tessera.sqlite3")


def database_url(settings_dict: dict[str, Any]) -> str:
    """A DATABASE_URL (django-environ's form) for a connection's settings."""
    engine = settings_dict["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        name = str(settings_dict["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            raise RuntimeError(f"an in-memory SQLite database cannot be shared: {name}")
        return f"sqlite:///{Path(name).resolve()}"
    if engine == "django.db.backends.postgresql":
        user = quote(settings_dict.get("USER") or "", safe="")
        password = quote(settings_dict.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
        return f"postgres://{auth}{host}{port}/{quote(settings_dict['NAME'], safe='')}"
    raise RuntimeError(f"no DATABASE_URL form for {engine}")


@dataclass
class CeleryEnv:
    """Where the test processes meet: broker, results, database, queue, a scratch directory."""

    broker_url: str
    result_backend: str
    database_url: str
    queue: str
    var_dir: Path
    tick_seconds: float = 1.0
    procs: list[CeleryProcess] = field(default_factory=list)

    def environ(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="tessera.settings",
            DATABASE_URL=self.database_url,
            CELERY_BROKER_URL=self.broker_url,
            CELERY_RESULT_BACKEND=self.result_backend,
            CELERY_TASK_DEFAULT_QUEUE=self.queue,
            TESSERA_VAR_DIR=str(self.var_dir),
            TESSERA_TICK_SECONDS=str(self.tick_seconds),
            PYTHONPATH=os.pathsep.join(
                [str(ROOT / "platform"), str(ROOT), env.get("PYTHONPATH", "")]
            ).rstrip(os.pathsep),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def start(self, name: str, *args: str, ready: str | None = None) -> CeleryProcess:
        """Start ``celery -A tessera ARGS``; wait for ``ready`` to appear in its log."""
        log = self.var_dir / f"{name}-{len(self.procs)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tessera", *args],
                cwd=ROOT,
                env=self.environ(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped whole, pool included
            )
        proc = CeleryProcess(name, popen, log)
        self.procs.append(proc)
        if ready:
            proc.wait_for(ready, START_TIMEOUT)
        return proc


@dataclass
class CeleryProcess:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.popen.poll() is not None:
                pytest.fail(
                    f"celery {self.name} exited ({self.popen.returncode}):\n{self.output()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"celery {self.name} not ready in {timeout:.0f}s:\n{self.output()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM (a worker's warm shutdown), then SIGKILL for the whole group if it hangs."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # stragglers: pool children
        self.popen.wait()


@pytest.fixture(scope="session")
def celery_env(django_db_setup, tmp_path_factory) -> Iterator[CeleryEnv]:
    """The broker, result backend and test database that worker subprocesses share with tests.

    Depends on ``django_db_setup``, so the processes it starts are stopped before the test
    database is destroyed.
    """
    from django.conf import settings
    from django.db import connection

    var_dir = tmp_path_factory.mktemp("celery")
    broker, backend = settings.CELERY_BROKER_URL, settings.CELERY_RESULT_BACKEND
    if broker.startswith("sqla+sqlite"):
        broker = f"sqla+sqlite:///{var_dir / 'broker.sqlite3'}"
    if backend.startswith("db+sqlite"):
        backend = f"db+sqlite:///{var_dir / 'results.sqlite3'}"
    env = CeleryEnv(
        broker_url=broker,
        result_backend=backend,
        database_url=database_url(connection.settings_dict),
        queue=f"tessera-test-{uuid.uuid4().hex[:12]}",
        var_dir=var_dir,
    )
    yield env
    for proc in reversed(env.procs):
        proc.stop()
    _delete_queue(env)


def _delete_queue(env: CeleryEnv) -> None:
    """Leave nothing behind on a shared broker (Redis keeps a binding per queue)."""
    from kombu import Connection

    try:
        with Connection(env.broker_url, connect_timeout=5) as conn:
            conn.default_channel.queue_delete(env.queue)
    except Exception:  # best effort: the queue is unique to this session anyway
        pass


@pytest.fixture(scope="session")
def celery_client(celery_env: CeleryEnv):
    """A Celery app in the test process that sends to, and reads results from, ``celery_env``."""
    from celery import Celery

    app = Celery("tessera-tests", set_as_current=False)
    app.conf.update(
        broker_url=celery_env.broker_url,
        result_backend=celery_env.result_backend,
        task_default_queue=celery_env.queue,
        broker_connection_retry_on_startup=True,
    )
    yield app
    app.close()


@pytest.fixture(scope="session")
def celery_worker_process(celery_env: CeleryEnv) -> CeleryProcess:
    """One real ``celery -A tessera worker`` (prefork, one child) for the session."""
    return celery_env.start(
        "worker",
        "worker",
        "--loglevel=INFO",
        "--concurrency=1",
        f"--hostname=tests-{celery_env.queue}@%h",
        "--without-mingle",
        "--without-gossip",
        ready=" ready.",
    )
