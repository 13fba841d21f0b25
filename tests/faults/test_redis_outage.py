"""Stop Redis in the middle of a batch: what people do meanwhile waits in the outbox, and once
Redis is back everything drains, nothing lost and nothing doubled.

The Redis stopped is a private ``redis-server`` (no persistence: the queued messages and the
worker's unacknowledged ones are gone with it, as after a crash of a cache-only Redis). The
worker and beat lose their broker; the test process keeps working: it creates tickets (each
starts a run, which enqueues two effects) and resolves some of them by hand (two more). Each
of those either raises, with nothing written, or commits with its effects ``pending`` in the
outbox and never handed to the broker (``dispatched_at`` empty): the tick sends them once
Redis is back, and re-sends the entries whose messages Redis lost.
"""

from __future__ import annotations

import logging
import time

import pytest

from tessera.actions import dispatch
from tessera.actions.models import OutboxEntry, OutboxStatus
from tessera.flows import service as flows
from tessera.flows.models import Run, RunStatus

from .conftest import (
    new_tickets,
    outbox_statuses,
    publish_ticket_flow,
    requires_postgres,
    requires_redis_server,
    tally_here,
    ticket_flow,
    wait_until,
)

pytestmark = [requires_postgres, requires_redis_server, pytest.mark.worker]

BEFORE = 30  # tickets created while Redis is up
DURING = 12  # tickets created while it is down; half of them resolved by hand, too
OUTAGE = 6.0  # seconds Redis stays down at least: long enough for worker and beat to notice


class Warnings(logging.Handler):
    """What the dispatcher logs while the broker is away."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.mark.django_db(transaction=True)
def test_redis_down_mid_batch_then_everything_drains_once(
    faults_env, publish_object, private_redis, mailbox, hooks, monkeypatch
):
    hooks.delay = 0.05
    publish_ticket_flow(publish_object, ticket_flow(hooks.url))
    _, worker = faults_env.beat_and_worker()
    new_tickets(BEFORE)
    wait_until(
        lambda: len(mailbox.arrived()) + len(hooks.arrived()) >= BEFORE,
        "the first effects arriving",
        procs=faults_env.procs,
        every=0.02,
    )

    warnings = Warnings()
    logger = logging.getLogger(dispatch.__name__)
    monkeypatch.setattr(logger, "propagate", False)  # counted here, not printed once per entry
    logger.addHandler(warnings)
    private_redis.stop()
    down_at = time.monotonic()
    at_stop = outbox_statuses()
    done_at_stop = Run.objects.filter(status=RunStatus.COMPLETED).count()

    # While Redis is down: tickets created (each run enters ``open``) and resolved by hand.
    outcomes: dict[str, list[str]] = {"committed": [], "raised": []}
    written: list[str] = []  # outbox keys of the committed moves
    created: list[int] = []
    for i in range(BEFORE, BEFORE + DURING):
        try:
            created += new_tickets(1, start=i)
        except Exception as exc:  # loud is allowed; it must then have written nothing
            outcomes["raised"].append(f"create {i}: {type(exc).__name__}: {exc}")
            continue
        run = Run.objects.get(subject_id=created[-1])
        outcomes["committed"].append(f"start run {run.pk}")
        written += [f"run:{run.pk}:1:enter:0", f"run:{run.pk}:1:enter:1"]
    for ticket in created[::2]:
        run = Run.objects.get(subject_id=ticket)
        try:
            moved = flows.transition(run.pk, "resolve", version=run.version)
        except Exception as exc:
            outcomes["raised"].append(f"resolve run {run.pk}: {type(exc).__name__}: {exc}")
            run.refresh_from_db()
            assert (run.node, run.visits) == ("open", 1), f"a refused move wrote {run}"
            continue
        outcomes["committed"].append(f"resolve run {run.pk}")
        written += [f"run:{moved.pk}:2:enter:0", f"run:{moved.pk}:2:enter:1"]
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))

    waiting = dict(OutboxEntry.objects.filter(key__in=written).values_list("key", "status"))
    undispatched = OutboxEntry.objects.filter(
        key__in=written, status=OutboxStatus.PENDING, dispatched_at__isnull=True
    ).count()
    outage = time.monotonic() - down_at
    logger.removeHandler(warnings)
    private_redis.start()

    def drained() -> bool:
        runs = Run.objects.count()
        return Run.objects.filter(status=RunStatus.COMPLETED).count() == runs and set(
            outbox_statuses()
        ) == {OutboxStatus.SENT}

    wait_until(
        drained,
        "every run completed and every entry sent after Redis came back",
        procs=faults_env.procs,
        state=lambda: (
            f"runs {Run.objects.filter(status=RunStatus.COMPLETED).count()}/"
            f"{Run.objects.count()} completed; outbox {outbox_statuses()}"
        ),
    )

    tally = tally_here(mailbox, hooks)
    report = (
        f"Redis down {outage:.1f}s after {done_at_stop} runs completed, outbox then {at_stop}; "
        f"meanwhile {len(outcomes['committed'])} moves committed, {len(outcomes['raised'])} "
        f"raised {outcomes['raised']}; their {len(written)} entries: "
        f"{undispatched} pending and undispatched; {len(warnings.lines)} 'broker unreachable' "
        f"warnings logged, e.g. {warnings.lines[:1]}\n"
        f"after restart: {tally.line()}; repeated {sorted(tally.repeated)}"
    )
    print(f"\n[faults] Redis outage: {report}")
    # Nothing a committed move asked for was lost: every entry is there, waiting for the tick.
    assert len(waiting) == len(written), report
    assert undispatched == len(written), report
    assert len(warnings.lines) == len(written), report  # each failed hand-over said so
    assert tally.completed == tally.runs == BEFORE + len(created), report
    assert set(tally.mails) == tally.expected_mails, report  # every e-mail arrived
    assert set(tally.webhooks) == tally.expected_webhooks, report  # every webhook arrived
    assert len(tally.expected_mails) == len(tally.expected_webhooks) == 2 * tally.runs, report
    # No send was cut off (a broker outage does not stop a worker mid-send; the send and its
    # ``sent`` mark go to the SMTP/HTTP server and the database): so not one repeat either.
    assert tally.duplicates == 0, report
    assert worker.popen.poll() is None, "the worker died in the outage"
