"""How fast customers walk a campaign on real Celery workers, against a chain of no-op tasks.

100k customers (``--small``: 1k, two broadcast batches of 500) are bulk-loaded into
``records_record``; a campaign is published whose trigger is a broadcast to a segment holding
all of them and whose flow has five nodes: ``branch`` (a condition on the customer) →
``split`` (A/B) → ``action`` (``set_field``) → ``wait`` (PT0S) → ``action`` (``add_tag``) →
end. Each action is a real, transactional record write with its history row and outbox row.

Measured in one run, with one and then two worker processes (``celery -A tessera worker
--concurrency=1`` each, ``DEBUG=false``, Redis broker, PostgreSQL):

- **campaign**: the workers start; the clock starts; one ``tessera.campaigns.scheduled`` task
  is sent (what the tick sends), whose worker reads the segment and fans out
  ``enter_batch`` tasks of 500 customers; the clock stops when every run has completed.
- **chain**: for every customer a Celery ``chain`` of five no-op tasks (the last one counts
  itself in Redis), all sent before the workers start; the clock runs from the workers
  being ready until every chain's last task has run.

Before that, one batch of 500 is entered in this process with its queries counted and
profiled, to show where the time goes. Goals: campaign / chain >= 0.3 with one worker, and
two workers >= 1.6 x one. Run::

    .venv/bin/python bench/campaigns.py [--small] [--customers N]

PostgreSQL is ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/tessera_bench_campaigns,
created if missing, migrated, its record and flow tables emptied); the broker
``CELERY_BROKER_URL`` (default redis://127.0.0.1:6379/7), on a queue of the run's own. The
last line is machine-readable::

    RESULT campaigns ratio=... goal=>=0.3 two_vs_one=... goal_two=>=1.6 campaign_1=... ...
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
# Not bench/ itself: its scripts would shadow packages of the same name (bench/graphql.py).
sys.path[:] = [str(ROOT / "platform"), str(ROOT)] + [
    entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"
]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tessera.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tessera_bench_campaigns"
DEFAULT_BROKER = "redis://127.0.0.1:6379/7"
GOAL_RATIO = 0.3
GOAL_TWO = 1.6
KEY = "bench"
START_TIMEOUT = 120.0

CUSTOMER: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"x-type": "string", "maxLength": 80},
        "vip": {"x-type": "boolean"},
        "level": {"x-type": "enum", "enum": ["bronze", "silver", "gold"]},
        "tags": {"x-type": "list", "items": {"x-type": "string", "maxLength": 40}},
    },
}
SEGMENT = {"object": "customer", "condition": {"field": "name", "op": "is_set"}}
CAMPAIGN: dict[str, Any] = {
    "object": "customer",
    "trigger": {"type": "broadcast", "segment": "bench-all"},
    "reentry": "always",
    "start": "vip",
    "nodes": {
        "vip": {
            "type": "branch",
            "condition": {"field": "vip", "op": "eq", "value": True},
            "then": "pick",
            "else": "pick",
        },
        "pick": {
            "type": "split",
            "variants": [
                {"name": "a", "weight": 1, "next": "level"},
                {"name": "b", "weight": 1, "next": "level"},
            ],
        },
        "level": {
            "type": "action",
            "actions": [{"type": "set_field", "params": {"field": "level", "value": "silver"}}],
            "next": "zero",
        },
        "zero": {"type": "wait", "for": "PT0S", "next": "tag"},
        "tag": {
            "type": "action",
            "actions": [{"type": "add_tag", "params": {"tag": "bench"}}],
            "next": "done",
        },
        "done": {"type": "end"},
    },
}

# The no-op tasks of the baseline, in a module the workers import (-I); written at run time
# so that no bench code lives in the engine.
NOOP_MODULE = """
import os
import redis
from celery import shared_task

_redis = None


@shared_task(name="bench.noop", acks_late=True, ignore_result=True)
def noop(i):
    return None


@shared_task(name="bench.last", acks_late=True, ignore_result=True)
def last(i):
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    _redis.incr(os.environ["BENCH_COUNTER"])
"""


def configure() -> tuple[str, str]:
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith("postgres"):
        raise SystemExit("bench/campaigns.py measures PostgreSQL: DATABASE_URL=postgres://…")
    broker = os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER
    ensure_database(url)
    os.environ["DATABASE_URL"], os.environ["CELERY_BROKER_URL"] = url, broker
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = f"bench-campaigns-{uuid.uuid4().hex[:8]}"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url, broker


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


TABLES = [
    "flows_step",
    "flows_campaign_entry",
    "flows_campaign_message",
    "flows_campaign_broadcast",
    "flows_campaign_state",
    "flows_run",
    "actions_outboxentry",
    "timers_timer",
    "records_recordchange",
    "records_event",
    "records_rollup",
    "segments_membership",
    "records_record",
]


def reset(customers: int) -> None:
    """Empty the tables, publish the definitions, load the customers (fresh for each run)."""
    from django.db import connection

    from tessera.definitions import service as definitions
    from tessera.definitions.models import Definition

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    Definition.objects.all().delete()
    definitions.save_and_publish("object", "customer", CUSTOMER)
    definitions.save_and_publish("segment", "bench-all", SEGMENT)
    definitions.save_and_publish("campaign", KEY, CAMPAIGN)
    version = Definition.objects.get(kind="object", key="customer").version
    with connection.cursor() as cursor:
        with cursor.cursor.copy(
            "COPY records_record (object_key, data, version, schema_version, created_at, "
            "updated_at) FROM STDIN"
        ) as copy:
            for i in range(customers):
                vip = "true" if i % 3 == 0 else "false"
                data = f'{{"name": "Customer {i}", "vip": {vip}}}'
                copy.write_row(("customer", data, 1, version, "now", "now"))
        cursor.execute("ANALYZE records_record")


def count_queries_and_profile(batch: int) -> dict[str, Any]:
    """One batch entered in this process: queries per customer and the top of the profile."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tessera.actions import dispatch
    from tessera.flows.campaigns import entering
    from tessera.records.models import Record

    dispatch.publish = lambda entry_id: None  # nothing to dispatch: both actions are inline
    ids = list(Record.objects.order_by("pk").values_list("pk", flat=True)[: 2 * batch])
    entering.enter(KEY, [(i, "warm") for i in ids[:10]])  # caches warm
    counted = 200  # Django keeps the last 9,000 queries: a batch of 200 fits
    with CaptureQueriesContext(connection) as captured:
        entering.enter(KEY, [(i, "count") for i in ids[10 : 10 + counted]])
    started = time.perf_counter()
    entering.enter(KEY, [(i, "time") for i in ids[10 + counted : batch]])
    seconds = time.perf_counter() - started
    kinds = Counter(_kind(q["sql"]) for q in captured.captured_queries)
    profile = cProfile.Profile()
    profile.enable()
    entering.enter(KEY, [(i, "profile") for i in ids[batch : 2 * batch]])
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(12)
    return {
        "ms_per_customer": 1000 * seconds / (batch - 10 - counted),
        "queries_per_customer": len(captured.captured_queries) / counted,
        "kinds": {k: round(v / counted, 2) for k, v in kinds.most_common(14)},
        "profile": out.getvalue(),
    }


def _kind(sql: str) -> str:
    words = sql.split()
    verb = words[0].upper() if words else "?"
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return verb
    table = next((w.strip('"') for w in words if w.startswith('"') and "_" in w), "")
    return f"{verb} {table.split('.')[0]}".strip()


def start_workers(count: int, var_dir: Path, extra_path: Path, counter: str, name: str) -> list:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join(
            [str(ROOT / "platform"), str(ROOT), str(extra_path), os.environ.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep),
        BENCH_COUNTER=counter,
        TESSERA_VAR_DIR=str(var_dir),
        PYTHONUNBUFFERED="1",
    )
    procs = []
    for n in range(count):
        log = var_dir / f"worker-{name}-{n}.log"
        out = log.open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tessera",
                "worker",
                "--loglevel=WARNING",
                "--concurrency=1",
                "-I",
                "bench_campaign_noop",
                f"--hostname=bench{n}-{name}@%h",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append((proc, log))
    return procs


def wait_ready(procs: list, app) -> None:
    """Every worker answers a ping (it consumes from the queue from then on)."""
    deadline = time.monotonic() + START_TIMEOUT
    want = len(procs)
    while time.monotonic() < deadline:
        for proc, log in procs:
            if proc.poll() is not None:
                raise SystemExit(f"a worker exited:\n{log.read_text()[-3000:]}")
        replies = app.control.ping(timeout=1.0) or []
        if len(replies) >= want:
            return
    raise SystemExit("workers not ready in time")


def stop_workers(procs: list) -> None:
    for proc, _ in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc, _ in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def completed_runs() -> int:
    from tessera.flows.models import Run

    return Run.objects.filter(flow_kind="campaign", flow_key=KEY, status="completed").count()


def campaign_run(workers: int, customers: int, var_dir: Path, extra: Path, app) -> float:
    from tessera.flows.campaigns.tasks import scheduled

    reset(customers)
    procs = start_workers(workers, var_dir, extra, "", f"campaign{workers}")
    try:
        wait_ready(procs, app)
        started = time.perf_counter()
        scheduled.delay(KEY)
        while completed_runs() < customers:
            for proc, log in procs:
                if proc.poll() is not None:
                    raise SystemExit(f"a worker died:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        seconds = time.perf_counter() - started
    finally:
        stop_workers(procs)
    failed = _failures()
    if failed:
        raise SystemExit(f"runs failed: {failed}")
    return customers / seconds


def _failures() -> dict[str, int]:
    from tessera.actions.models import OutboxEntry
    from tessera.flows.models import Run

    failed = Run.objects.exclude(status="completed").count()
    entries = OutboxEntry.objects.exclude(status="sent").count()
    return {k: v for k, v in {"runs": failed, "outbox": entries}.items() if v}


def chain_run(workers: int, customers: int, var_dir: Path, extra: Path, app, broker: str) -> float:
    import redis
    from celery import chain

    counter = f"bench:chains:{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(broker)
    client.delete(counter)
    with app.producer_or_acquire() as producer:
        for i in range(customers):
            steps = [app.signature("bench.noop", args=(i,), immutable=True) for _ in range(4)]
            steps.append(app.signature("bench.last", args=(i,), immutable=True))
            chain(*steps).apply_async(producer=producer)
    procs = start_workers(workers, var_dir, extra, counter, f"chain{workers}")
    try:
        wait_ready(procs, app)
        started = time.perf_counter()
        while int(client.get(counter) or 0) < customers:
            time.sleep(0.1)
        seconds = time.perf_counter() - started
    finally:
        stop_workers(procs)
        client.delete(counter)
    return customers / seconds


def load() -> str:
    """The machine's load average: other processes share its cores with the workers."""
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="1k customers")
    parser.add_argument("--customers", type=int)
    args = parser.parse_args()
    customers = args.customers or (1_000 if args.small else 100_000)
    url, broker = configure()
    from tessera.celery import app

    print(f"database {url}, broker {broker}, queue {os.environ['CELERY_TASK_DEFAULT_QUEUE']}")
    print(f"{customers} customers, flow: branch → split → set_field → wait PT0S → add_tag")
    reset(1000)
    where = count_queries_and_profile(500)
    print(
        f"in-process batch: {where['ms_per_customer']:.2f} ms and "
        f"{where['queries_per_customer']:.1f} queries per customer"
    )
    print("queries per customer by kind:", where["kinds"])
    print(where["profile"])
    scratch = Path(tempfile.mkdtemp(prefix="tessera-bench-campaigns-"))
    (scratch / "bench_campaign_noop.py").write_text(NOOP_MODULE)
    figures: dict[str, float] = {}
    try:
        for workers in (1, 2):
            rate = campaign_run(workers, customers, scratch, scratch, app)
            figures[f"campaign_{workers}"] = rate
            print(f"campaign, {workers} worker(s): {rate:.0f} customers/s ({load()})")
            rate = chain_run(workers, customers, scratch, scratch, app, broker)
            figures[f"chain_{workers}"] = rate
            print(f"chain of 5 no-ops, {workers} worker(s): {rate:.0f} customers/s ({load()})")
    finally:
        app.connection_for_write().default_channel.queue_delete(
            os.environ["CELERY_TASK_DEFAULT_QUEUE"]
        )
    ratio = figures["campaign_1"] / figures["chain_1"]
    ratio_2 = figures["campaign_2"] / figures["chain_2"]
    two = figures["campaign_2"] / figures["campaign_1"]
    print(
        f"RESULT campaigns ratio={ratio:.2f} goal=>={GOAL_RATIO} two_vs_one={two:.2f} "
        f"goal_two=>={GOAL_TWO} ratio_two_workers={ratio_2:.2f} "
        f"campaign_1={figures['campaign_1']:.0f} campaign_2={figures['campaign_2']:.0f} "
        f"chain_1={figures['chain_1']:.0f} chain_2={figures['chain_2']:.0f} "
        f"queries_per_customer={where['queries_per_customer']:.1f} customers={customers}"
    )


if __name__ == "__main__":
    main()
