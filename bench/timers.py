"""How fast Tessera claims and fires due timers among a million pending, on PostgreSQL.

1M pending timers (``--small``: 100k) are bulk-loaded (``COPY``) into ``timers_timer``, 10k
of them due (``--small``: 2k), the rest due between an hour and 30 days ahead; the table is
analysed. Then, in one run:

- claim: Tessera's ``tessera.timers.service.claim(limit=10k)`` (the ORM query the tick runs:
  due timers locked earliest first, their ids returned) against one hand-written indexed
  ``SELECT id FROM timers_timer WHERE status = 'pending' AND due_at <= now ORDER BY due_at
  LIMIT 10000 FOR UPDATE SKIP LOCKED`` on the same partial index; each in a transaction rolled
  back after it, the median of 5 runs, taking turns. Goal: claim / select <= 2. Printed too:
  claim plus ``service.load`` of the claimed rows as Timer objects (what firing reads first;
  in the firing figures below it is paid per batch of 500).
- firing: fresh 10k timers fall due over the 5 s before a start signal; one, then two worker
  processes (separate interpreters, each its own connection, ``DEBUG=false``) run
  ``service.run_due`` in a loop — what the tick and its ``tessera.timers.fire_due`` tasks run —
  with a no-op handler registered by the bench, until nothing is due. Printed: timers fired
  per second, each worker's RSS before (set up, warmed) and after firing, and the lateness
  of the last timer (when its batch committed minus its due_at).

Run::

    .venv/bin/python bench/timers.py [--small] [--pending N] [--due N]

PostgreSQL is ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/tessera_bench_timers),
created if missing, migrated, and its timers table emptied. The last line is
machine-readable::

    RESULT timers ratio=1.3 goal=<=2 claim_ms=... select_ms=... fire_rate_1=... fire_rate_2=...
    rss_before_mb=... rss_after_mb=... lateness_last_s=... pending=... due=...  (one line)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
# Not bench/ itself: its scripts would shadow packages of the same name (bench/graphql.py).
sys.path[:] = [str(ROOT / "platform"), str(ROOT)] + [
    entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"
]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tessera.settings")
# Production-like: no query log kept per connection (it would grow the workers' memory).
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tessera_bench_timers"
GOAL = 2.0
TRANSITIONS_GOAL = 200
WARM_UP = 20  # transitions taken before the timed ones (each way of taking them)
RUNS = 5
PURPOSE = "bench.noop"
DUE_SPREAD = dt.timedelta(seconds=5)  # the due timers fall due over one default tick
CHUNK = 100_000
READY, GO = "ready", "go"


def configure() -> str:
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith("postgres"):
        raise SystemExit("bench/timers.py measures PostgreSQL: DATABASE_URL=postgres://…")
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


# --- loading ------------------------------------------------------------------------------


def copy_timers(rows: list[tuple[dt.datetime, str]], created: dt.datetime) -> None:
    """COPY (due_at, owner) rows in as pending ``bench.noop`` timers."""
    from django.db import connection

    stamp = created.isoformat()
    text = "".join(
        f"{PURPOSE}\t{due.isoformat()}\t{owner}\t"
        f'{{"node": "waiting", "visit": 1}}\tpending\t0\t\t{stamp}\n'
        for due, owner in rows
    )
    with (
        connection.cursor() as wrapper,
        wrapper.cursor.copy(
            "COPY timers_timer (purpose, due_at, owner, payload, status, attempts, last_error, "
            "created_at) FROM STDIN"
        ) as copy,
    ):
        copy.write(text)


def load(pending: int, due: int, now: dt.datetime, rng: random.Random) -> None:
    """``pending - due`` timers due from an hour to 30 days ahead, ``due`` due by ``now``."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE timers_timer RESTART IDENTITY")
    later = pending - due
    started = time.perf_counter()
    with transaction.atomic():
        for first in range(0, later, CHUNK):
            copy_timers(
                [
                    (now + dt.timedelta(seconds=rng.uniform(3600, 30 * 86400)), f"run:{i}")
                    for i in range(first, min(first + CHUNK, later))
                ],
                now,
            )
        add_due(due, now, rng, first_owner=later)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE timers_timer")
    print(f"loaded {pending:,} timers ({due:,} due) in {time.perf_counter() - started:.1f}s")


def add_due(count: int, until: dt.datetime, rng: random.Random, first_owner: int) -> None:
    rows = [(until - DUE_SPREAD * rng.random(), f"run:{first_owner + i}") for i in range(count)]
    copy_timers(rows, until)


# --- the claim against a hand-written SELECT ----------------------------------------------

HAND_SELECT = (
    "SELECT id FROM timers_timer WHERE status = 'pending' AND due_at <= %s "
    "ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED"
)


def claim_once(limit: int, now: dt.datetime) -> tuple[float, list[int]]:
    from django.db import transaction

    from tessera.timers import service

    with transaction.atomic():
        started = time.perf_counter()
        claimed = service.claim(limit=limit, now=now)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed * 1000, claimed


def claim_and_load_once(limit: int, now: dt.datetime) -> tuple[float, list[int]]:
    from django.db import transaction

    from tessera.timers import service

    with transaction.atomic():
        started = time.perf_counter()
        timers = service.load(service.claim(limit=limit, now=now))
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed * 1000, [timer.pk for timer in timers]


def select_once(limit: int, now: dt.datetime) -> tuple[float, list[int]]:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(HAND_SELECT, [now, limit])
        ids = [row[0] for row in cursor.fetchall()]
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed * 1000, ids


def explain(limit: int, now: dt.datetime) -> str:
    from django.db import connection, transaction

    from tessera.timers.service import claim_query

    with transaction.atomic(), connection.cursor() as cursor:
        sql, params = claim_query(limit=limit, now=now).query.sql_with_params()
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, params)
        rows = cursor.fetchall()
        transaction.set_rollback(True)
    return "\n".join(row[0] for row in rows)


def compare_claims(limit: int, now: dt.datetime) -> dict[str, float]:
    """Median milliseconds of each way to claim, taking turns; they must take the same ids."""
    ways = {"claim": claim_once, "select": select_once, "claim_load": claim_and_load_once}
    taken = {name: sorted(measure(limit, now)[1]) for name, measure in ways.items()}  # warm
    if len(taken["claim"]) != limit or any(ids != taken["claim"] for ids in taken.values()):
        sizes = {name: len(ids) for name, ids in taken.items()}
        raise SystemExit(f"the claims disagree: {sizes} timers of {limit}")
    times: dict[str, list[float]] = {name: [] for name in ways}
    order = list(ways)
    for _ in range(RUNS):
        for name in order:
            times[name].append(ways[name](limit, now)[0])
        order.reverse()
    return {name: statistics.median(values) for name, values in times.items()}


# --- firing in worker processes ------------------------------------------------------------


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker() -> None:
    """One worker process: set up, say ready, wait for go, fire until nothing is due."""
    import django

    django.setup()
    from django.utils import timezone

    from tessera.timers import service
    from tessera.timers.handlers import TimerHandler, handlers

    latest: dict[str, Any] = {"due": None}

    def noop(timer) -> None:
        if latest["due"] is None or timer.due_at > latest["due"]:
            latest["due"] = timer.due_at

    handlers.register(TimerHandler(type=PURPOSE, fire=noop, label="bench no-op"))
    batch = service.batch_size()
    service.run_due(limit=batch, now=timezone.now() - dt.timedelta(days=3650))  # warm: nothing
    before = rss_mb()
    print(READY, flush=True)
    go = float(sys.stdin.readline().split()[1])
    time.sleep(max(0.0, go - time.time()))
    fired = 0
    last_due, last_at, first_batch = None, None, None
    while True:
        outcome = service.run_due(limit=batch)
        committed = time.time()
        fired += outcome.fired
        if first_batch is None:
            first_batch = rss_mb()
        if latest["due"] is not None and (last_due is None or latest["due"] > last_due):
            last_due, last_at = latest["due"], committed
        if outcome.claimed < batch:
            break
    finished = time.time()
    print(
        json.dumps(
            {
                "fired": fired,
                "finished": finished,
                "rss_before_mb": before,
                "rss_first_batch_mb": first_batch,
                "rss_after_mb": rss_mb(),
                "last_due": last_due.timestamp() if last_due else None,
                "last_at": last_at,
                "batch": batch,
            }
        ),
        flush=True,
    )


def fire_with(workers: int, due: int, rng: random.Random, round_no: int) -> dict[str, Any]:
    """Start ``workers`` processes; when all are ready, make ``due`` timers due and go."""
    from django.db import transaction

    from tessera.timers.models import Timer

    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for _ in range(workers)
    ]
    try:
        for proc in procs:
            line = proc.stdout.readline().strip()
            if line != READY:
                raise SystemExit(f"a worker did not start: {line!r}")
        go = time.time() + 1.0
        go_at = dt.datetime.fromtimestamp(go, dt.UTC)
        with transaction.atomic():
            Timer.objects.filter(due_at__lte=go_at).delete()  # what an earlier round left
            add_due(due, go_at, rng, first_owner=10_000_000 * round_no)
        go = max(go, time.time())  # never before the due timers are committed
        for proc in procs:
            proc.stdin.write(f"{GO} {go}\n")
            proc.stdin.flush()
        reports = [json.loads(proc.stdout.readline()) for proc in procs]
    finally:
        for proc in procs:
            proc.stdin.close()
            proc.wait(60)
    fired = sum(r["fired"] for r in reports)
    if fired != due:
        raise SystemExit(f"{workers} worker(s) fired {fired} of {due} due timers")
    elapsed = max(r["finished"] for r in reports) - go
    last = max((r for r in reports if r["last_due"]), key=lambda r: r["last_due"])
    return {
        "rate": fired / elapsed,
        "elapsed": elapsed,
        "per_worker": [r["fired"] for r in reports],
        "rss_before": [r["rss_before_mb"] for r in reports],
        "rss_first_batch": [r["rss_first_batch_mb"] for r in reports],
        "rss_after": [r["rss_after_mb"] for r in reports],
        "lateness": last["last_at"] - last["last_due"],
        "batch": reports[0]["batch"],
    }


# --- Flows: transitions per second per worker ------------------------------------------------


def transitions_per_second_per_worker(count: int) -> tuple[float, float]:
    """Transitions one process takes per second, each its own transaction as a person's is.

    The workflow is the documented returns workflow (docs/examples/workflows): a return ticket
    moved from ``new`` to ``approved`` with a required field, a role check, a guard, the state
    field written, its SLA clock settled and the history step written. Also returns the rate
    at which tickets are created with their run started (assignment, two SLA clocks).
    """
    from django.contrib.auth.models import Group, User

    from tessera.definitions import service as definitions
    from tessera.flows import service as flows
    from tessera.flows.models import Run
    from tessera.records import service as records

    examples = ROOT / "docs" / "examples" / "workflows"
    for kind, key in (("object", "ticket"), ("calendar", "cn-office"), ("workflow", "returns")):
        body = json.loads((examples / f"{key}.json").read_text(encoding="utf-8"))["body"]
        current = definitions.current(kind, key)
        if current is None or current.body != body:
            definitions.save_and_publish(kind, key, body)
    agent, _ = User.objects.get_or_create(username="bench-agent")
    agent.groups.add(Group.objects.get_or_create(name="support")[0])
    Group.objects.get_or_create(name="supervisors")

    started = time.perf_counter()
    tickets = [records.create("ticket", {"title": "bench", "kind": "return"}) for _ in range(count)]
    create_rate = count / (time.perf_counter() - started)
    runs = list(Run.objects.filter(subject__in=tickets).values_list("pk", "version"))
    # The first moves of a process compile the workflow, the ticket's validator and the
    # guard: a one-time cost per process, not per transition, so they are not timed.
    warm, runs = runs[:WARM_UP], runs[WARM_UP:]
    for run_id, version in warm:
        flows.transition(run_id, "approve", actor=agent, version=version, fields={"reason": "b"})
    started = time.perf_counter()
    for run_id, version in runs:
        flows.transition(
            run_id, "approve", actor=agent, version=version, fields={"reason": "bench"}
        )
    return len(runs) / (time.perf_counter() - started), create_rate


def transitions_by_hand(count: int) -> float:
    """The same move of the same tickets written by hand: the floor a transition can reach.

    Per ticket, one transaction: the run and its ticket locked with the revision read in
    one SELECT, then the ticket's data merged, its history line, the step, the SLA timers
    deleted and the run moved, as one multi-statement execute. No guard, no validation, no
    roles, no SLA arithmetic: what is left is PostgreSQL's work and the round trips.
    """
    from django.db import connection, transaction

    from tessera.flows.models import Run
    from tessera.records import service as records

    tickets = [records.create("ticket", {"title": "bench", "kind": "return"}) for _ in range(count)]
    runs = list(Run.objects.filter(subject__in=tickets).values_list("pk", "subject_id"))
    runs = runs[WARM_UP:]  # as many moves timed as Tessera's
    lock = (
        "SELECT r.*, s.*, (SELECT revision FROM definitions_definitionsrevision WHERE id = 1) "
        "FROM flows_run r JOIN records_record s ON s.id = r.subject_id WHERE r.id = %s FOR UPDATE"
    )
    writes = "; ".join(
        [
            "UPDATE records_record SET data = data || %s::jsonb, version = version + 1, "
            "updated_at = now() WHERE id = %s",
            "INSERT INTO records_recordchange (record_id, object_key, version, action, changes, "
            "actor_id, at, comment) VALUES (%s, 'ticket', 3, 'update', %s::jsonb, NULL, now(), "
            "'approve')",
            "INSERT INTO flows_step (run_id, kind, transition, from_node, to_node, actor_id, "
            "comment, data, at) VALUES (%s, 'transition', 'approve', 'new', 'approved', NULL, "
            "'', '{}'::jsonb, now())",
            "DELETE FROM timers_timer WHERE id IN (SELECT id FROM timers_timer WHERE owner = %s "
            "FOR UPDATE SKIP LOCKED)",
            "UPDATE flows_run SET node = 'approved', version = version + 1, "
            "visits = visits + 1, updated_at = now() WHERE id = %s",
        ]
    )
    data = json.dumps({"status": "approved", "reason": "bench"})
    changes = json.dumps({"status": ["new", "approved"], "reason": [None, "bench"]})
    started = time.perf_counter()
    for run_id, subject_id in runs:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(lock, [run_id])
            cursor.fetchone()
            cursor.execute(
                writes,
                [
                    data,
                    subject_id,
                    subject_id,
                    changes,
                    run_id,
                    f"run:{run_id}:sla:respond",
                    run_id,
                ],
            )
    return len(runs) / (time.perf_counter() - started)


def mbs(values: list[float]) -> str:
    return "/".join(f"{value:.1f}" for value in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="a quick run (under a minute)")
    parser.add_argument("--pending", type=int, help="pending timers (overrides --small)")
    parser.add_argument("--due", type=int, help="of which due now (overrides --small)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    pending = args.pending or (100_000 if args.small else 1_000_000)
    due = args.due or (2_000 if args.small else 10_000)

    url = configure()
    where = urlparse(url)._replace(netloc=urlparse(url).hostname or "").geturl()
    print(f"database {where}: {pending:,} pending timers, {due:,} due")
    rng = random.Random(42)
    from django.utils import timezone

    now = timezone.now()
    load(pending, due, now, rng)

    print("plan of Tessera's claim:")
    print(explain(due, now))
    medians = compare_claims(due, now)
    claim_ms, select_ms, load_ms = medians["claim"], medians["select"], medians["claim_load"]
    ratio = claim_ms / select_ms
    print(
        f"claim {due:,}: tessera {claim_ms:.1f} ms, hand-written select {select_ms:.1f} ms; "
        f"claim and load as Timer objects {load_ms:.1f} ms"
    )
    print(f"claim / select {ratio:.2f} (goal <= {GOAL})")

    one = fire_with(1, due, rng, round_no=1)
    two = fire_with(2, due, rng, round_no=2)
    for name, result in (("1 worker", one), ("2 workers", two)):
        print(
            f"{name}: {result['rate']:,.0f} timers/s ({result['per_worker']} in "
            f"{result['elapsed']:.2f}s, batches of {result['batch']}), RSS MB before "
            f"{mbs(result['rss_before'])}, after the first batch "
            f"{mbs(result['rss_first_batch'])}, after all {mbs(result['rss_after'])}; last timer "
            f"{result['lateness']:.2f}s late"
        )
    moves = 300 if args.small else 2_000
    transitions, created = transitions_per_second_per_worker(moves)
    by_hand = transitions_by_hand(moves)
    transitions_text = f"{transitions:.0f}"
    print(
        f"workflow: {transitions:,.0f} transitions/s in one worker (goal >= {TRANSITIONS_GOAL}; "
        f"n8n publishes 220 executions/s per instance); {created:,.0f} tickets/s created with "
        f"their run started; the same moves by hand-written SQL {by_hand:,.0f}/s "
        f"(Tessera at {transitions / by_hand:.2f} of it)"
    )
    print(
        f"RESULT timers ratio={ratio:.2f} goal=<={GOAL} claim_ms={claim_ms:.1f} "
        f"select_ms={select_ms:.1f} claim_load_ms={load_ms:.1f} "
        f"fire_rate_1={one['rate']:.0f} fire_rate_2={two['rate']:.0f} "
        f"rss_before_mb={max(one['rss_before']):.1f} "
        f"rss_first_batch_mb={max(one['rss_first_batch']):.1f} "
        f"rss_after_mb={max(one['rss_after']):.1f} "
        f"rss_before_2_mb={max(two['rss_before']):.1f} rss_after_2_mb={max(two['rss_after']):.1f} "
        f"lateness_last_s={one['lateness']:.2f} lateness_last_2_s={two['lateness']:.2f} "
        f"transitions_per_s_per_worker={transitions_text} tickets_started_per_s={created:.0f} "
        f"transitions_by_hand_per_s={by_hand:.0f} "
        f"pending={pending} due={due}"
    )


if __name__ == "__main__":
    main()
