"""kill -9 the worker in the middle of a batch of runs: after a restart every run completes and
every e-mail and webhook arrives, each once (a repeat only where a send was cut off).

Real parts: a ``celery worker`` and ``celery beat`` (tick every second) on a private Redis,
the test database, an SMTP server and an HTTP server in this process. The test process
creates the tickets (each starts its run and enqueues two effects); the worker delivers
them, and its tick fires the timers of the automatic ``close`` (two more effects per run).

Exactly once, precisely: the outbox marks an entry ``sent`` only after the send returned, so
a kill between the receiver's answer and that commit repeats the send once the lease runs
out. Such an entry is ``sending`` at the kill; the repeat carries the same delivery key (and
Message-ID), so the receiver can drop it. So: every key arrives, and repeats are limited to
the entries in flight at the kill (at most one per pool process).
"""

from __future__ import annotations

import pytest

from tessera.actions.models import OutboxEntry, OutboxStatus
from tessera.flows.models import Run, RunStatus

from .conftest import (
    new_tickets,
    outbox_statuses,
    publish_ticket_flow,
    requires_postgres,
    requires_redis_server,
    stop_group,
    tally_here,
    ticket_flow,
    wait_until,
)

pytestmark = [requires_postgres, requires_redis_server, pytest.mark.worker]

RUNS = 60


def arrivals(mailbox, hooks) -> int:
    return len(mailbox.arrived()) + len(hooks.arrived())


@pytest.mark.django_db(transaction=True)
def test_kill_9_mid_batch_then_restart_completes_every_run_once(
    faults_env, publish_object, mailbox, hooks
):
    hooks.delay = 0.1  # a webhook is in flight much of the time: the kill may land in one
    publish_ticket_flow(publish_object, ticket_flow(hooks.url))
    _, worker = faults_env.beat_and_worker()
    expected = 4 * RUNS
    new_tickets(RUNS // 2)
    wait_until(
        lambda: (
            arrivals(mailbox, hooks) >= expected // 6
            and Run.objects.filter(status=RunStatus.COMPLETED).exists()
        ),
        "the first effects arriving and a first run completing",
        procs=faults_env.procs,
        every=0.02,
    )
    new_tickets(RUNS - RUNS // 2, start=RUNS // 2)  # their runs are open, timers pending
    stop_group(worker)
    arrived_at_kill = arrivals(mailbox, hooks)
    at_kill = outbox_statuses()
    in_flight = set(
        OutboxEntry.objects.filter(status=OutboxStatus.SENDING).values_list("key", flat=True)
    )
    completed_at_kill = Run.objects.filter(status=RunStatus.COMPLETED).count()
    assert 0 < arrived_at_kill < expected, "the kill must land in the middle of the effects"
    assert 0 < completed_at_kill < RUNS, "the kill must land in the middle of the runs"

    restarted = faults_env.worker("worker-restarted")
    done = lambda: (  # noqa: E731
        Run.objects.filter(status=RunStatus.COMPLETED).count() == RUNS
        and outbox_statuses() == {OutboxStatus.SENT: expected}
    )
    wait_until(
        done,
        "every run completed and every entry sent after the restart",
        procs=[worker, restarted],
        state=lambda: (
            f"runs {Run.objects.filter(status=RunStatus.COMPLETED).count()}/{RUNS} "
            f"completed; outbox {outbox_statuses()}"
        ),
    )

    tally = tally_here(mailbox, hooks)
    report = (
        f"kill -9 after {arrived_at_kill}/{expected} arrivals, {completed_at_kill}/{RUNS} runs "
        f"completed, outbox {at_kill}, in flight {sorted(in_flight)}\n"
        f"after restart: {tally.line()}; repeated {sorted(tally.repeated)}"
    )
    print(f"\n[faults] kill -9: {report}")
    assert tally.completed == tally.runs == RUNS, report
    assert len(tally.expected_mails) == len(tally.expected_webhooks) == 2 * RUNS, report
    assert set(tally.mails) == tally.expected_mails, report  # every e-mail arrived
    assert set(tally.webhooks) == tally.expected_webhooks, report  # every webhook arrived
    # A repeat only for an entry whose send was cut off by the kill (see the module docstring).
    assert tally.repeated <= in_flight, report
    assert tally.duplicates <= len(in_flight), report
