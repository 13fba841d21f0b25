"""Real parts to break: a private Redis, a private PostgreSQL cluster, Celery processes on them,
and a real SMTP server and HTTP server that count every arrival by its delivery key.

Nothing here touches the shared Redis on 6379 or the shared PostgreSQL cluster beyond the
test database pytest-django made: the Redis these tests stop is a ``redis-server`` started
for the test on a free port, and the PostgreSQL they restart is a cluster ``initdb`` made in
a temporary directory (run as the ``postgres`` OS user when the tests run as root).

The workflow under test (``ticket_flow``): a ticket's run enters ``open``, whose ``on_enter``
sends an e-mail and calls a webhook; ``close`` is taken by the system one second later (a
durable timer fired by the worker's tick) into the final ``closed``, whose ``on_enter``
sends another e-mail and webhook. So a run that completes made four effects, each under its
own outbox key, which the mail (``Tessera-Delivery`` header, and a Message-ID derived from
it) and the request (``Tessera-Delivery`` header) carry to the receivers.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import glob
import http.server
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.worker import START_TIMEOUT, CeleryEnv, CeleryProcess, database_url

WAIT = 120.0  # seconds: the deadline of every wait for a drain (never a speed assertion)
LEASE = 5  # seconds: a dead worker's claim runs out quickly here (above the send timeouts)
SEND_TIMEOUT = 3  # seconds: SMTP and webhook timeouts of the workers, below the lease

requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="fault tests need PostgreSQL and Redis: set DATABASE_URL=postgres://… "
    "(the suite's PostgreSQL pass runs them)",
)
requires_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="fault tests start a private redis-server: none is installed",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    check: Callable[[], bool],
    what: str,
    *,
    procs: list[CeleryProcess] = (),  # type: ignore[assignment]
    timeout: float = WAIT,
    every: float = 0.25,
    state: Callable[[], str] = lambda: "",
) -> None:
    """Poll ``check`` until it holds; fail with the processes' logs after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}:\n{p.output()[-5000:]}" for p in procs)
            pytest.fail(f"{what}: not within {timeout:.0f}s. {state()}\n{logs}")
        time.sleep(every)


# --- Redis -----------------------------------------------------------------------------------


@dataclass
class PrivateRedis:
    """A ``redis-server`` of the test's own, without persistence: stopping it loses its queue."""

    port: int
    log: Path
    popen: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.starts += 1
        deadline = time.monotonic() + 20
        while not self.ping():
            if self.popen.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server on {self.port} did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM: with ``--save ""`` nothing is written, so whatever was queued is gone."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(port=free_port(), log=tmp_path / "redis.log")
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


# --- receivers -------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """A real SMTP server (aiosmtpd): every accepted message, by its delivery key."""

    host: str
    port: int
    keys: list[str] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:  # counted on acceptance: a sender that dies after this is a duplicate
            self.keys.append(str(message["Tessera-Delivery"]))
            self.message_ids.append(str(message["Message-ID"]))
        return "250 Message accepted for delivery"

    def arrived(self) -> list[str]:
        with self.lock:
            return list(self.keys)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    box = Mailbox("127.0.0.1", free_port())
    controller = Controller(box, hostname=box.host, port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Hooks:
    """A real HTTP server: every request, by its ``Tessera-Delivery`` header; answers 200."""

    port: int = 0
    delay: float = 0.0  # seconds before answering: keeps a request in flight for a kill
    keys: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tickets"

    def arrived(self) -> list[str]:
        with self.lock:
            return list(self.keys)


def _hook_handler(state: Hooks) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:  # counted on arrival: a sender that dies after this is a duplicate
                state.keys.append(self.headers.get("Tessera-Delivery", ""))
            if state.delay:
                time.sleep(state.delay)
            reply = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            with contextlib.suppress(ConnectionError):  # the sender died waiting (kill -9)
                self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    state = Hooks()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _hook_handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# --- definitions -----------------------------------------------------------------------------

TICKET: dict[str, Any] = {
    "type": "object",
    "x-label": {"en": "Ticket", "zh": "工单"},
    "x-title-field": "title",
    "required": ["title", "email"],
    "properties": {
        "title": {"x-type": "string", "maxLength": 200},
        "email": {"x-type": "email"},
        "status": {"x-type": "enum", "enum": ["open", "closed", "a", "b"]},
    },
}


def effects(hook_url: str, what: str) -> list[dict[str, Any]]:
    """An e-mail to the ticket's address and a webhook: the two effects of entering a state."""
    return [
        {
            "type": "send_email",
            "params": {
                "to": "email",
                "subject": f"Ticket #{{{{ record.id }}}} {what}",
                "body": "{{ record.title }}",
            },
        },
        {"type": "webhook", "params": {"url": hook_url}},
    ]


def ticket_flow(hook_url: str) -> dict[str, Any]:
    """Open (e-mail + webhook), closed by the system after a second (e-mail + webhook)."""
    return {
        "object": "ticket",
        "initial": "open",
        "state_field": "status",
        "start": "on_create",
        "states": {
            "open": {"on_enter": effects(hook_url, "opened")},
            "closed": {"final": True, "on_enter": effects(hook_url, "closed")},
        },
        "transitions": {
            "close": {"from": ["open"], "to": "closed", "after": "PT1S"},
            "resolve": {"from": ["open"], "to": "closed"},
        },
    }


def flip_flow(hook_url: str) -> dict[str, Any]:
    """Two states a person flips between; every entry writes status, a Step and two effects."""
    return {
        "object": "ticket",
        "initial": "a",
        "state_field": "status",
        "start": "on_create",
        "states": {
            "a": {"on_enter": effects(hook_url, "in a")},
            "b": {"on_enter": effects(hook_url, "in b")},
        },
        "transitions": {
            "go": {"from": ["a"], "to": "b"},
            "back": {"from": ["b"], "to": "a"},
        },
    }


# --- Celery processes --------------------------------------------------------------------------


@dataclass
class FaultEnv(CeleryEnv):
    """``tests.worker.CeleryEnv`` with the receivers and short outbox timings in its env."""

    extra: dict[str, str] = field(default_factory=dict)

    def environ(self, **extra: str) -> dict[str, str]:
        return super().environ(**{**self.extra, **extra})

    def worker(self, name: str = "worker") -> CeleryProcess:
        return self.start(
            name,
            "worker",
            "--loglevel=INFO",
            "--concurrency=2",
            f"--hostname={name}-{self.queue}@%h",
            "--without-mingle",
            "--without-gossip",
            ready=" ready.",
        )

    def beat(self) -> CeleryProcess:
        """Beat, sending the tick every ``tick_seconds``; not waited for (see ``ready``)."""
        return self.start("beat", "beat", "--loglevel=INFO")

    def beat_and_worker(self) -> tuple[CeleryProcess, CeleryProcess]:
        """Both started at once (each takes seconds to import the project), then awaited."""
        beat = self.beat()
        worker = self.worker()
        beat.wait_for("beat: Starting", START_TIMEOUT)
        return beat, worker

    def stop_all(self) -> None:
        """kill -9, whole process groups: the test is over, a warm shutdown only costs time."""
        for proc in reversed(self.procs):
            stop_group(proc)


def make_env(
    db_url: str, redis: PrivateRedis, mailbox: Mailbox, var_dir: Path, *, app: str = ""
) -> FaultEnv:
    return FaultEnv(
        broker_url=redis.url,
        result_backend=redis.url,
        database_url=db_url,
        queue=f"tessera-faults-{uuid.uuid4().hex[:10]}",
        var_dir=var_dir,
        tick_seconds=1.0,
        extra={
            "EMAIL_URL": f"smtp://{mailbox.host}:{mailbox.port}",
            "EMAIL_TIMEOUT": str(SEND_TIMEOUT),
            "DEFAULT_FROM_EMAIL": "shop@example.com",
            "TESSERA_WEBHOOK_TIMEOUT": str(SEND_TIMEOUT),
            "TESSERA_WEBHOOK_CONNECT_TIMEOUT": str(SEND_TIMEOUT),
            "TESSERA_ACTIONS_LEASE_SECONDS": str(LEASE),
            "TESSERA_ACTIONS_REDISPATCH_SECONDS": "5",
            "TESSERA_ACTIONS_BACKOFF_SECONDS": "1",
            "TESSERA_ACTIONS_BACKOFF_MAX_SECONDS": "2",
            **({"PGAPPNAME": app} if app else {}),
        },
    )


def broker_client(env: CeleryEnv):
    """Sends to ``env``'s queue; keeps no results (a result backend would retry a dead Redis)."""
    from celery import Celery

    app = Celery(f"tessera-faults-{uuid.uuid4().hex[:6]}", set_as_current=False)
    app.conf.update(
        broker_url=env.broker_url,
        task_default_queue=env.queue,
        broker_connection_retry_on_startup=True,
    )
    return app


@pytest.fixture
def faults_env(
    transactional_db, private_redis, mailbox, tmp_path, monkeypatch
) -> Iterator[FaultEnv]:
    """Worker and beat on the private Redis and the test database; the test process sends there.

    The test process's dispatch (``tessera.actions.dispatch.publish``) sends the same task, with
    the same retry policy, through a client for the private Redis and the test's queue: the
    project's own Celery app in this process is configured for the session's broker. The rest
    of ``dispatch`` (what happens when the broker is down) runs as it is. Depends on
    ``transactional_db`` so the processes stop before the test database is flushed.
    """
    from django.db import connection

    from tessera.actions import dispatch

    env = make_env(database_url(connection.settings_dict), private_redis, mailbox, tmp_path)
    # Celery reads CELERY_BROKER_URL from the environment before its own configuration: with
    # the suite's broker there (CI's PostgreSQL pass sets Redis 6379), the client below would
    # send to the shared Redis, not the private one, and the outage would never be felt.
    monkeypatch.setenv("CELERY_BROKER_URL", env.broker_url)
    client = broker_client(env)

    def publish(entry_id: int) -> None:
        client.send_task(
            dispatch.TASK,
            args=(entry_id,),
            queue=env.queue,
            ignore_result=True,  # as the task declares: no result subscription on the way
            retry=True,
            retry_policy=dispatch.RETRY_POLICY,
        )

    monkeypatch.setattr(dispatch, "publish", publish)
    try:
        yield env
    finally:
        env.stop_all()
        client.close()


# --- PostgreSQL --------------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The newest installed server's bin directory (initdb, pg_ctl, pg_dump, psql)."""

    def version(initdb: str) -> int:
        name = Path(initdb).parent.parent.name
        return int(name) if name.isdigit() else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


requires_postgres_binaries = pytest.mark.skipif(
    postgres_bin() is None or (os.geteuid() == 0 and shutil.which("runuser") is None),
    reason="restarting PostgreSQL needs a private cluster: initdb/pg_ctl not installed "
    "(or running as root without runuser to drop to the postgres user)",
)


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster in a temporary directory, on a free port, stopped and started at will.

    Run as the ``postgres`` OS user when the tests run as root (the server refuses root).
    """

    bindir: Path
    root: Path
    port: int
    db: str = "tessera_faults"
    restarts: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.db}"

    def dsn(self, db: str | None = None) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={db or self.db}"

    def _run(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(
            [*prefix, *args], check=True, capture_output=True, text=True, timeout=60, **kwargs
        )

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c max_connections=60"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash: backends die at once, the next start replays the WAL."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
        )
        return done.returncode == 0

    def restore_from(self, settings_dict: dict[str, Any]) -> None:
        """A copy of the test database (schema, definitions, tickets) as ``self.db``."""
        self._run(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), self.db)
        env = dict(os.environ)
        if settings_dict.get("PASSWORD"):
            env["PGPASSWORD"] = settings_dict["PASSWORD"]
        dump = subprocess.run(
            [
                str(self.bindir / "pg_dump"),
                "-h",
                settings_dict.get("HOST") or "127.0.0.1",
                "-p",
                str(settings_dict.get("PORT") or 5432),
                "-U",
                settings_dict.get("USER") or "postgres",
                "--no-owner",
                "--no-privileges",
                settings_dict["NAME"],
            ],
            check=True,
            capture_output=True,
            env=env,
            timeout=120,
        )
        subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                self.db,
            ],
            input=dump.stdout,
            check=True,
            capture_output=True,
            timeout=120,
        )


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    bindir = postgres_bin()
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="tessera-faults-pg-"))
    cluster = PrivateCluster(bindir=bindir, root=root, port=free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            with contextlib.suppress(subprocess.SubprocessError):
                cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


# --- counting --------------------------------------------------------------------------------


@dataclass
class Tally:
    """What arrived, against what the outbox holds: the counts every fault test prints."""

    runs: int
    completed: int
    mails: list[str]
    webhooks: list[str]
    expected_mails: set[str]
    expected_webhooks: set[str]
    completed_as: str = "completed"  # the PostgreSQL test's runs never end: "consistent" there

    @property
    def duplicates(self) -> int:
        return len(self.mails) - len(set(self.mails)) + len(self.webhooks) - len(set(self.webhooks))

    @property
    def repeated(self) -> set[str]:
        return {k for k, n in (Counter(self.mails) + Counter(self.webhooks)).items() if n > 1}

    def line(self) -> str:
        return (
            f"runs={self.runs} {self.completed_as}={self.completed} "
            f"emails_raw={len(self.mails)} emails_distinct={len(set(self.mails))} "
            f"(expected {len(self.expected_mails)}) "
            f"webhooks_raw={len(self.webhooks)} webhooks_distinct={len(set(self.webhooks))} "
            f"(expected {len(self.expected_webhooks)}) duplicates={self.duplicates}"
        )


def stop_group(proc: CeleryProcess) -> None:
    """kill -9 a Celery process and its pool: no warm shutdown, nothing acked or cleaned."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.popen.wait()


def tally_here(mailbox: Mailbox, hooks: Hooks) -> Tally:
    """The counts for runs and an outbox in the test database (read through the ORM)."""
    from tessera.actions.models import OutboxEntry
    from tessera.flows.models import Run, RunStatus

    keys = dict(OutboxEntry.objects.values_list("key", "type"))
    return Tally(
        runs=Run.objects.count(),
        completed=Run.objects.filter(status=RunStatus.COMPLETED).count(),
        mails=mailbox.arrived(),
        webhooks=hooks.arrived(),
        expected_mails={k for k, t in keys.items() if t == "send_email"},
        expected_webhooks={k for k, t in keys.items() if t == "webhook"},
    )


def outbox_statuses() -> dict[str, int]:
    from tessera.actions.models import OutboxEntry

    return dict(Counter(OutboxEntry.objects.values_list("status", flat=True)))


def publish_ticket_flow(publish_object, body: dict[str, Any], key: str = "tickets"):
    from tessera.definitions import service

    publish_object("ticket", TICKET)
    return service.save_and_publish("workflow", key, body)


def new_tickets(count: int, start: int = 0) -> list[int]:
    """Create tickets one transaction each (a web request each): each starts its run."""
    from tessera.records import service as records

    return [
        records.create("ticket", {"title": f"Kettle {i}", "email": f"c{i}@example.com"}).pk
        for i in range(start, start + count)
    ]
