"""Crash PostgreSQL in the middle of a transition: no ticket is left half-moved.

The cluster crashed is a private one (``initdb`` in a temporary directory, on a free port),
holding a copy of the test database: the ``flip`` workflow and a dozen tickets. A process
(``tests/faults/transition_loop.py``) flips every ticket between ``a`` and ``b`` in a loop;
each transition writes the ticket's ``status``, a Step, and two outbox rows (an e-mail and a
webhook, delivered by a real worker on a private Redis). The cluster is stopped with
``pg_ctl -m immediate`` (its processes die at once; the restart replays the WAL, as after a
power cut) while the loop is inside a transition, then started again:

- **random** rounds stop it at a moment when the loop's backend has a transaction open;
- the **gated** round first makes the loop wait *inside* a transition, after it wrote the Step
  and the record, at its outbox insert: another connection holds an uncommitted row with the
  very outbox key the loop's next move of one ticket will write, so the unique index makes
  the loop wait for it (ordinary locking; no code is changed). ``pg_locks`` shows what the
  loop's transaction had written when the cluster died.

After every restart, and at the end: each ticket's ``status`` equals its run's ``node``; its
Steps chain from the start to that node, one per visit; its outbox rows are exactly those of
its committed visits (none for a transition that did not commit). Then the loop runs again
(the tickets still move), the worker drains the outbox, and every e-mail and webhook of a
committed visit arrived (a repeat only for a send the crash cut off between the receiver's
answer and the ``sent`` mark: such an entry is ``sending`` right after the restart).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from tessera.actions import dispatch

from .conftest import (
    FaultEnv,
    PrivateCluster,
    Tally,
    flip_flow,
    make_env,
    new_tickets,
    publish_ticket_flow,
    requires_postgres,
    requires_postgres_binaries,
    requires_redis_server,
    wait_until,
)

pytestmark = [
    requires_postgres,
    requires_redis_server,
    requires_postgres_binaries,
    pytest.mark.worker,
]

ROOT = Path(__file__).resolve().parents[2]
RUNS = 12
LOOP_APP = "tessera-faults-loop"
ROUNDS = ("random", "gated", "random")
WARM_UP = 15  # transitions the loop commits before a round's crash


def sql(cluster: PrivateCluster, query: str, params: tuple = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(cluster.dsn(), autocommit=True, connect_timeout=5) as conn:
        return conn.execute(query, params).fetchall()


@contextlib.contextmanager
def loop(env: FaultEnv, log: Path, count: int = 0):
    with log.open("ab") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.transition_loop", str(count)],
            cwd=ROOT,
            env=env.environ(PGAPPNAME=LOOP_APP),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield popen
    finally:
        if popen.poll() is None:
            popen.kill()
        popen.wait()


def lines(log: Path) -> list[str]:
    return log.read_text(errors="replace").splitlines() if log.exists() else []


def committed(log: Path) -> int:
    return sum(1 for line in lines(log) if line.startswith("ok "))


def loop_backend(cluster: PrivateCluster) -> tuple[Any, ...] | None:
    rows = sql(
        cluster,
        "SELECT pid, state, wait_event_type, xact_start IS NOT NULL FROM pg_stat_activity "
        "WHERE application_name = %s",
        (LOOP_APP,),
    )
    return rows[0] if rows else None


def written_tables(cluster: PrivateCluster, pid: int) -> list[str]:
    """Tables the backend's open transaction has written (it holds RowExclusiveLock on them)."""
    return [
        name
        for (name,) in sql(
            cluster,
            "SELECT DISTINCT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = %s AND l.mode = 'RowExclusiveLock' AND l.granted "
            "AND c.relkind = 'r' ORDER BY 1",
            (pid,),
        )
    ]


def hold_next_outbox_key(cluster: PrivateCluster) -> tuple[psycopg.Connection, str]:
    """Hold, uncommitted, the outbox key that the loop's next move of some ticket will write."""
    for run_id, visits in sql(
        cluster, "SELECT id, visits FROM flows_run WHERE flow_key = 'flip' ORDER BY random()"
    ):
        key = f"run:{run_id}:{visits + 1}:enter:0"
        conn = psycopg.connect(cluster.dsn(), connect_timeout=5)
        try:
            conn.execute("SET lock_timeout = '1s'")
            conn.execute(
                "INSERT INTO actions_outboxentry (key, type, params, object_key, context, "
                "status, attempts, next_attempt_at, claim, last_error, created_at, updated_at) "
                "VALUES (%s, 'webhook', '{}', 'ticket', '{}', 'pending', 0, now(), '', '', "
                "now(), now())",
                (key,),
            )
        except psycopg.Error:  # the loop is moving that very ticket right now: another one
            conn.close()
            continue
        return conn, key
    pytest.fail("no ticket's next outbox key could be held")


def consistency(cluster: PrivateCluster) -> tuple[list[str], dict[str, int]]:
    """Problems (a half-moved ticket, a stray or missing Step or outbox row) and totals."""
    runs = sql(
        cluster,
        "SELECT r.id, r.node, r.visits, r.status, rec.data->>'status' FROM flows_run r "
        "JOIN records_record rec ON rec.id = r.subject_id WHERE r.flow_key = 'flip'",
    )
    steps: dict[int, list[tuple[str, str, str, str]]] = defaultdict(list)
    for run_id, kind, from_node, to_node, transition in sql(
        cluster,
        "SELECT run_id, kind, from_node, to_node, transition FROM flows_step ORDER BY run_id, id",
    ):
        steps[run_id].append((kind, from_node, to_node, transition))
    keys: dict[int, set[str]] = defaultdict(set)
    for (key,) in sql(cluster, "SELECT key FROM actions_outboxentry"):
        keys[int(key.split(":")[1])].add(key)
    problems = []
    for run_id, node, visits, status, field in runs:
        if status != "active":
            problems.append(f"run {run_id} is {status}")
        if field != node:
            problems.append(f"run {run_id}: record status {field!r} but the run is at {node!r}")
        path = steps[run_id]
        expected_path = [("start", "", "a", "")]
        for _ in range(2, visits + 1):
            came_from = expected_path[-1][2]
            to = "b" if came_from == "a" else "a"
            expected_path.append(("transition", came_from, to, "go" if to == "b" else "back"))
        if path != expected_path:
            problems.append(f"run {run_id} at {node!r}, {visits} visits, steps {path}")
        if path and path[-1][2] != node:
            problems.append(f"run {run_id}: last step into {path[-1][2]!r}, run at {node!r}")
        want = {f"run:{run_id}:{v}:enter:{i}" for v in range(1, visits + 1) for i in (0, 1)}
        if keys[run_id] != want:
            problems.append(
                f"run {run_id} ({visits} visits): outbox extra {sorted(keys[run_id] - want)} "
                f"missing {sorted(want - keys[run_id])}"
            )
    totals = {
        "runs": len(runs),
        "transitions": sum(v - 1 for _, _, v, _, _ in runs),
        "steps": sum(map(len, steps.values())),
        "outbox": sum(map(len, keys.values())),
    }
    return problems, totals


def crash_round(cluster: PrivateCluster, env: FaultEnv, log: Path, mode: str) -> dict[str, Any]:
    """One crash while the loop is inside a transition; returns what was seen."""
    seen: dict[str, Any] = {"mode": mode}
    with loop(env, log) as popen:
        before = committed(log)
        wait_until(
            lambda: committed(log) >= before + WARM_UP or popen.poll() is not None,
            f"the loop committing {WARM_UP} transitions",
            procs=env.procs,
            timeout=60,
        )
        assert popen.poll() is None, "\n".join(lines(log)[-20:])
        held = None
        if mode == "gated":
            held, seen["held_key"] = hold_next_outbox_key(cluster)
            wait_until(
                lambda: (loop_backend(cluster) or (0, "", None, False))[2] == "Lock",
                "the loop waiting inside a transition on the held outbox key",
                procs=env.procs,
                timeout=30,
                every=0.02,
            )
        else:
            wait_until(
                lambda: (loop_backend(cluster) or (0, "", None, False))[3],
                "the loop inside a transaction",
                procs=env.procs,
                timeout=30,
                every=0.002,
            )
        backend = loop_backend(cluster)
        seen["written"] = written_tables(cluster, backend[0]) if backend else []
        cluster.stop("immediate")  # the crash
        if held is not None:
            with contextlib.suppress(psycopg.Error):
                held.close()
        popen.wait(60)
        seen["loop_exit"] = popen.returncode
    faults = [line for line in lines(log) if line.startswith("FAULT")]
    seen["fault"] = faults[-1] if faults else "(none)"
    cluster.start()
    cluster.restarts += 1
    sending = sql(cluster, "SELECT key FROM actions_outboxentry WHERE status = 'sending'")
    seen["sending"] = {key for (key,) in sending}
    if "held_key" in seen:  # neither the held row nor the loop's move of that ticket survived
        run_id, visit = seen["held_key"].split(":")[1:3]
        seen["held_survived"] = sql(
            cluster,
            "SELECT (SELECT count(*) FROM actions_outboxentry WHERE key = %s), "
            "(SELECT visits FROM flows_run WHERE id = %s) >= %s",
            (seen["held_key"], int(run_id), int(visit)),
        )[0]
    seen["problems"], seen["totals"] = consistency(cluster)
    return seen


@pytest.mark.django_db(transaction=True)
def test_postgres_crash_mid_transition_leaves_no_ticket_half_moved(
    publish_object, private_cluster, private_redis, mailbox, hooks, tmp_path, monkeypatch
):
    # Preparation in the test database, copied into the private cluster: nothing is sent from
    # here (the worker's tick sends these first entries, found pending, once it runs).
    monkeypatch.setattr(dispatch, "publish", lambda entry_id: None)
    publish_ticket_flow(publish_object, flip_flow(hooks.url), key="flip")
    new_tickets(RUNS)
    private_cluster.restore_from(connection.settings_dict)

    env = make_env(private_cluster.url, private_redis, mailbox, tmp_path)
    log = tmp_path / "loop.log"
    try:
        env.beat_and_worker()
        rounds = [crash_round(private_cluster, env, log, mode) for mode in ROUNDS]

        with loop(env, log, count=2 * RUNS) as popen:  # the tickets still move afterwards
            popen.wait(120)
            assert popen.returncode == 0, "\n".join(lines(log)[-20:])

        def outbox() -> dict[str, int]:
            return dict(
                sql(private_cluster, "SELECT status, count(*) FROM actions_outboxentry GROUP BY 1")
            )

        wait_until(
            lambda: set(outbox()) == {"sent"},
            "the worker sending every outbox entry after the crashes",
            procs=env.procs,
            state=lambda: f"outbox {outbox()}",
        )
        problems, totals = consistency(private_cluster)
        keys = dict(sql(private_cluster, "SELECT key, type FROM actions_outboxentry"))
    finally:
        env.stop_all()

    in_flight = set().union(*(r["sending"] for r in rounds))
    half_moved = {p.split()[1].rstrip(":") for p in problems if p.startswith("run ")}
    tally = Tally(
        runs=totals["runs"],
        completed=totals["runs"] - len(half_moved),
        completed_as="consistent",  # flip runs never end: each must be whole, not completed
        mails=mailbox.arrived(),
        webhooks=hooks.arrived(),
        expected_mails={k for k, t in keys.items() if t == "send_email"},
        expected_webhooks={k for k, t in keys.items() if t == "webhook"},
    )
    report = "\n".join(
        [
            *(
                f"round {i} ({r['mode']}): loop exit {r['loop_exit']}, {r['fault']}; its open "
                f"transaction had written {r['written']}; after restart {r['totals']}, "
                f"sending {sorted(r['sending'])}, half-moved/stray: {r['problems'] or 'none'}"
                + (
                    f"; held {r['held_key']}: (rows, moved) after restart {r['held_survived']}"
                    if "held_key" in r
                    else ""
                )
                for i, r in enumerate(rounds, 1)
            ),
            f"after {private_cluster.restarts} crashes and {committed(log)} transitions "
            f"committed by the loop: {totals}; problems: {problems or 'none'}",
            tally.line() + f"; repeated {sorted(tally.repeated)}",
        ]
    )
    print(f"\n[faults] PostgreSQL crash:\n{report}")

    for r in rounds:
        assert r["problems"] == [], report
    assert problems == [], report
    gated = next(r for r in rounds if r["mode"] == "gated")
    # The gated crash hit a transition half-way: its Step and record were written, then lost.
    assert gated["fault"].startswith("FAULT mid-transition"), report
    assert {"flows_step", "records_record"} <= set(gated["written"]), report
    assert gated["held_survived"] == (0, False), report  # nothing of that move committed
    assert totals["runs"] == RUNS, report
    assert set(tally.mails) == tally.expected_mails, report  # every committed visit's e-mail
    assert set(tally.webhooks) == tally.expected_webhooks, report  # and webhook
    # A repeat only where a crash cut a send off: the entry was ``sending`` after the restart
    # (the receiver had it; the ``sent`` mark did not commit). One per such entry and crash.
    assert tally.repeated <= in_flight, report
    assert tally.duplicates <= sum(len(r["sending"]) for r in rounds), report
