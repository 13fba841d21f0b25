"""Letting customers into a campaign: once per occurrence, by the re-entry rule, in batches.

Every trigger ends here with (customer, occurrence key) pairs. One transaction per batch
locks the customers' rows (in id order), reads what they already have in this campaign,
and lets in those that pass:

- the same occurrence twice (a trigger delivered again): once, by ``Entry``'s unique key;
- ``once``: never again after a first entry; ``once_per_period``: not again within the
  period of the last entry; ``always``: again, but never twice at the same time (one run
  per customer and campaign is active at most);
- a paused or unpublished campaign lets nobody in.

Admitted customers get a run (written in bulk) that enters the start node at once and walks
on until it waits. The batch walks under one savepoint; when a customer's step fails, it rolls
back and the batch walks again with a savepoint each, so that only the failing run fails.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from tessera import write_batch
from tessera.definitions.cache import one_revision
from tessera.definitions.durations import parse_duration
from tessera.records.models import Record
from tessera.records.row_updates import update_rows

from .. import runtime
from ..graph import Flow, FlowNotFound, load
from ..models import Run, RunStatus, StepKind
from . import state
from .models import CampaignState, Entry

logger = logging.getLogger(__name__)


@dataclass
class Admission:
    """What one call let in, and why the others stayed out (reason → how many)."""

    entered: list[int] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


def _window(flow: Flow) -> dt.timedelta | None:
    within = (flow.options.get("goal") or {}).get("within")
    if not within:
        return None
    now = timezone.now()
    return (now + parse_duration(within)) - now


def enter(
    key: str, occurrences: Iterable[tuple[int, str]], *, now: dt.datetime | None = None
) -> Admission:
    """Let customers into the published campaign ``key`` (see the module docstring)."""
    wanted = list(dict.fromkeys((int(s), str(k)) for s, k in occurrences))
    result = Admission()
    if not wanted:
        return result
    with one_revision():
        try:
            flow = load("campaign", key)
        except FlowNotFound:
            result.skipped["not_published"] += len(wanted)
            return result
        with transaction.atomic():
            _enter(flow, wanted, now or timezone.now(), result)
    return result


def _enter(flow: Flow, wanted: list[tuple[int, str]], now: dt.datetime, result: Admission) -> None:
    control = CampaignState.objects.filter(campaign_key=flow.key).first()
    if control is not None and control.paused:
        result.skipped["paused"] += len(wanted)
        return
    ids = sorted({s for s, _ in wanted})
    records = {
        r.pk: r
        for r in Record.objects.select_for_update()
        .filter(pk__in=ids, object_key=flow.object_key)
        .order_by("pk")
    }
    seen = set(
        Entry.objects.filter(campaign_key=flow.key, subject_id__in=ids).values_list(
            "subject_id", "key"
        )
    )
    last: dict[int, dt.datetime] = {}
    for subject_id, entered_at in Entry.objects.filter(
        campaign_key=flow.key, subject_id__in=ids
    ).values_list("subject_id", "entered_at"):
        last[subject_id] = max(entered_at, last.get(subject_id, entered_at))
    busy = set(
        Run.objects.filter(
            flow_kind="campaign", flow_key=flow.key, subject_id__in=ids, status=RunStatus.ACTIVE
        ).values_list("subject_id", flat=True)
    )
    rule, period = flow.options.get("reentry", "once"), flow.options.get("reentry_period")
    since = now - parse_duration(period) if period else None
    admitted: list[tuple[int, str]] = []
    for subject_id, occurrence in wanted:
        reason = ""
        if subject_id not in records:
            reason = "not_found"
        elif (subject_id, occurrence) in seen:
            reason = "duplicate"
        elif subject_id in busy:
            reason = "in_flow"
        elif rule == "once" and subject_id in last:
            reason = "once"
        elif (
            rule == "once_per_period" and since is not None and last.get(subject_id, since) > since
        ):
            reason = "period"
        if reason:
            result.skipped[reason] += 1
            continue
        admitted.append((subject_id, occurrence))
        busy.add(subject_id)
        last[subject_id] = now
    if not admitted:
        return
    window = _window(flow)
    runs = Run.objects.bulk_create(
        [
            Run(
                flow_kind="campaign",
                flow_key=flow.key,
                flow_version=flow.version,
                subject_id=subject_id,
                object_key=flow.object_key,
                node="",
            )
            for subject_id, _ in admitted
        ]
    )
    entries = Entry.objects.bulk_create(
        [
            Entry(
                campaign_key=flow.key,
                campaign_version=flow.version,
                subject_id=subject_id,
                key=occurrence,
                run=run,
                entered_at=now,
                goal_until=now + window if window else None,
            )
            for (subject_id, occurrence), run in zip(admitted, runs, strict=True)
        ]
    )
    with runtime.buffered_steps() as steps:
        mark = len(steps)
        if _walk_together(runs, entries, flow, records):
            result.entered.extend(run.subject_id for run in runs)
        else:
            del steps[mark:]  # the batch's history rolled back with it
            # read again: a rolled-back step may have changed the objects in memory
            records = {r.pk: r for r in Record.objects.filter(pk__in=list(records))}
            for run, entry in zip(runs, entries, strict=True):
                _reset(run, entry)
                if _walk(run, flow, records[run.subject_id], steps):
                    result.entered.append(run.subject_id)
    # Variants chosen in this walk, written in one statement rather than one per customer.
    walked = set(result.entered)
    chosen = [e for e in entries if e.split and e.subject_id in walked]
    if chosen:
        update_rows(chosen, ["split", "variant"])


def _walk_together(
    runs: list[Run], entries: list[Entry], flow: Flow, records: dict[int, Record]
) -> bool:
    """Every walk of the batch under one savepoint: the usual case, two statements fewer per
    customer than a savepoint each. When one walk fails, the whole savepoint rolls back and
    False says to walk them again one savepoint each, so that only the failing run fails."""
    try:
        # Row writes that need no answer (runs, steps, timers, records) wait and leave
        # together, between the reads the walks make (tessera.write_batch).
        with transaction.atomic(), write_batch.batch():
            for run, entry in zip(runs, entries, strict=True):
                state.remember(run, entry, paused=False, batch=True)
                runtime.enter(
                    run,
                    flow,
                    flow.start,
                    step={"kind": StepKind.START},
                    record=records[run.subject_id],
                )
        return True
    except Exception:
        logger.info("campaign %s: a walk failed; the batch walks again one by one", flow.key)
        return False


def _reset(run: Run, entry: Entry) -> None:
    """The run and entry as written before the rolled-back walk (the rows never changed)."""
    run.node, run.status, run.version, run.visits = "", RunStatus.ACTIVE, 1, 0
    run.data, run.error, run.ended_at = {}, "", None
    entry.split, entry.variant, entry.held, entry.converted_at = "", "", False, None
    state.remember(run, entry, paused=False, batch=True)


def _walk(run: Run, flow: Flow, record: Record, steps: list) -> bool:
    mark = len(steps)
    try:
        with transaction.atomic():
            runtime.enter(run, flow, flow.start, step={"kind": StepKind.START}, record=record)
        return True
    except Exception as exc:
        logger.exception("campaign %s: the run of #%s failed to start", flow.key, run.subject_id)
        del steps[mark:]  # that walk's history rolled back with it
        run.refresh_from_db()
        runtime.finish(run, RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        return False
