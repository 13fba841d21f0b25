"""Importing a file: preview it, check it without writing (dry run), or run a job in chunks.

The three share ``checking``: what a preview or a dry run says about a row is what the run
will do with it. A run first reads the whole file once for what would refuse it entirely
(encoding, ragged rows, huge cells: ``reading.FileProblem``), so such a file writes
nothing; then it goes chunk by chunk, each chunk in one transaction that also moves the
job's cursor, so a crash loses at most the chunk in flight and a resumed job goes on from
the last committed chunk (and upsert keys would make redoing one harmless anyway).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import queue
import secrets
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tessera.definitions.cache import one_revision, published
from tessera.definitions.errors import FieldError
from tessera.records.models import Record

from .checking import Checked, Plan, RowError, check_chunk
from .mapping import suggest_mapping
from .models import ImportJob, ImportStatus, RejectedRow
from .reading import FileProblem, open_table
from .writing import prepare, write_chunk, write_rows_one_by_one

MAX_REPORTED = 1000  # rejected rows a dry run keeps in memory; the count goes on


def chunk_rows() -> int:
    return int(settings.TESSERA_EXCHANGE["chunk_rows"])


def chunked(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while True:
        batch = list(itertools.islice(rows, size))
        if not batch:
            return
        yield batch


@dataclass
class Preview:
    """The first rows of a file as read and as they would be stored, with the mapping."""

    header: list[str]
    encoding: str
    mapping: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)


def preview(
    path: str,
    object_key: str,
    *,
    mapping: dict[str, str] | None = None,
    key_fields: list[str] | None = None,
    options: dict[str, Any] | None = None,
    rows: int = 10,
) -> Preview:
    """Header, suggested (or given) mapping and the first ``rows`` rows, converted.

    Raises FileProblem (the file) or PlanRefused (the mapping) with errors by path.
    """
    definition = _published(object_key)
    with open_table(path, encoding=(options or {}).get("encoding")) as table:
        suggested = (
            mapping if mapping is not None else suggest_mapping(table.header, definition.body)
        )
        out = Preview(table.header, table.encoding, suggested)
        if not suggested:
            return out
        plan = Plan(object_key, table.header, suggested, key_fields or [], options)
        first = list(itertools.islice(table.rows, rows))
        with one_revision():
            checked = check_chunk(plan, first)
        data_by_row = {row: e.data for e in checked.entries for row in e.rows[-1:]}
        errors_by_row = {row: errs for row, _, errs in checked.rejected}
        for number, cells in first:
            out.rows.append(
                {
                    "row": number,
                    "cells": [c if isinstance(c, str) else str(c) for c in cells],
                    "data": data_by_row.get(number),
                    "errors": [e.as_dict() for e in errors_by_row.get(number, [])],
                }
            )
    return out


def _published(object_key: str):
    definition = published("object", object_key)
    if definition is None:
        raise FileProblem(
            [FieldError("$.object", "unknown_object", f"{object_key!r} is not a published object")]
        )
    return definition


@dataclass
class Report:
    """What an import would do (dry run) or did: counts and the rejected rows."""

    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first MAX_REPORTED rows'

    def add(self, checked: Checked) -> None:
        self.created += checked.creates
        self.updated += checked.updates
        self.unchanged += checked.unchanged
        for _, _, errors in checked.rejected:
            self.rejected += 1
            if len({e.row for e in self.errors}) < MAX_REPORTED:
                self.errors.extend(errors)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors": [e.as_dict() for e in self.errors],
        }


def dry_run(
    path: str,
    object_key: str,
    mapping: dict[str, str] | None = None,
    key_fields: list[str] | None = None,
    options: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Check every row as the import would, write nothing, and say what would happen.

    Rows are checked against the database as it is; the rows of one chunk see each other
    (a repeated key updates, a repeated unique value is refused), rows of different chunks
    are checked apart (the run, which writes, sees them all).
    """
    definition = _published(object_key)
    options = options or {}
    report = Report()
    with open_table(path, encoding=options.get("encoding")) as table:
        mapping = mapping if mapping is not None else suggest_mapping(table.header, definition.body)
        plan = Plan(object_key, table.header, mapping, key_fields or [], options)
        with one_revision():
            for batch in chunked(table.rows, chunk_rows()):
                report.total += len(batch)
                report.add(check_chunk(plan, batch))
                if progress:
                    progress(len(batch))
    return report


# --- jobs ----------------------------------------------------------------------------------


def count_rows(path: str, encoding: str | None = None) -> tuple[int, str, list[str]]:
    """Read the whole file once: (data rows, encoding, header); FileProblem if it is broken."""
    with open_table(path, encoding=encoding) as table:
        return table.count(), table.encoding, table.header


class Stop(Exception):
    """This worker no longer owns the job (another resumed it, or it was cancelled)."""


def run(
    job: ImportJob,
    *,
    claim: str | None = None,
    progress: Callable[[ImportJob], None] | None = None,
) -> ImportJob:
    """Run (or resume) ``job`` to its end in this process; returns it as stored at the end.

    ``claim`` is this run's token; taking the job stamps it, and every chunk checks it
    under the job's row lock, so two workers never write the same job at once.
    """
    claim = claim or secrets.token_hex(8)
    if not _take(job.pk, claim):
        return ImportJob.objects.get(pk=job.pk)
    with _heap_frozen():
        return _run(ImportJob.objects.get(pk=job.pk), claim, progress)


@contextlib.contextmanager
def _heap_frozen() -> Iterator[None]:
    """Keep the collector off the objects that exist before the run (Django, Wagtail…).

    A chunk allocates hundreds of thousands of objects; each full collection would walk
    the whole long-lived heap again, a tenth of the import's time once measured. The
    youngest generation is also collected less often (every 50,000 allocations, not 700):
    a row's objects are freed by their counts, and the collector mostly walked the chunks
    being checked (5 to 8% of the checking time measured).
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _run(job: ImportJob, claim: str, progress) -> ImportJob:
    try:
        if job.total_rows is None:
            try:
                total, encoding, _header = count_rows(job.path, job.encoding or None)
            except FileProblem as exc:
                return _finish(job.pk, claim, ImportStatus.FAILED, errors=exc.errors)
            ImportJob.objects.filter(pk=job.pk, claim=claim).update(
                total_rows=total, encoding=encoding, heartbeat_at=timezone.now()
            )
            job.total_rows, job.encoding = total, encoding
        with open_table(job.path, encoding=job.encoding or None) as table:
            try:
                plan = Plan(job.object_key, table.header, job.mapping, job.key_fields, job.options)
            except Exception as exc:  # PlanRefused, or the object was archived since
                errors = getattr(exc, "errors", [FieldError("$", "refused", str(exc))])
                return _finish(job.pk, claim, ImportStatus.FAILED, errors=errors)
            chunks = table.chunks(chunk_rows(), after=job.cursor)
            if connection.vendor == "postgresql" and not connection.in_atomic_block:
                job = pipelined(job, claim, plan, chunks, progress)
            else:
                with asynchronous_commits():
                    for batch in chunks:
                        job = _chunk(job.pk, claim, plan, batch)
                        if progress:
                            progress(job)
        return _finish(job.pk, claim, ImportStatus.DONE)
    except Stop:
        return ImportJob.objects.get(pk=job.pk)
    except FileProblem as exc:  # the file changed under the job since it was counted
        return _finish(job.pk, claim, ImportStatus.FAILED, errors=exc.errors)


@contextlib.contextmanager
def asynchronous_commits() -> Iterator[None]:
    """Commit chunks without waiting for their WAL flush (PostgreSQL), for the block.

    A chunk and the cursor that counts it commit together, so a chunk lost to a database
    crash right after its commit is simply done again on resume: no need to wait for each
    chunk's flush (a commit cost more than its rows). Set for the connection, not per
    transaction: ``SET LOCAL`` in each chunk was a round trip of its own.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    try:
        yield
    finally:
        if connection.connection is not None and not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")


def _take(job_id: int, claim: str) -> bool:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status not in (ImportStatus.PENDING, ImportStatus.RUNNING):
            return False
        job.claim, job.status, job.attempts = claim, ImportStatus.RUNNING, job.attempts + 1
        job.heartbeat_at = timezone.now()
        job.started_at = job.started_at or job.heartbeat_at
        job.save(update_fields=["claim", "status", "attempts", "heartbeat_at", "started_at"])
    return True


def pipelined(
    job: ImportJob,
    claim: str,
    plan: Plan,
    batches: Iterator[list[tuple[int, list[Any]]]],
    progress: Callable[[ImportJob], None] | None,
) -> ImportJob:
    """Check chunk n+1 here while a second thread writes chunk n (PostgreSQL).

    The database works on one chunk while Python reads and converts the next: the import
    takes about the longer of the two instead of their sum. The writer takes the chunks in
    order, one transaction each, and checks again what the early check could not see (a
    record the chunk before created or changed): see ``_chunk``.
    """
    handoff: queue.Queue = queue.Queue(maxsize=1)
    # Keys are taken to be new (no lookup) until a chunk's insert meets a stored one: a
    # file of updates pays for one or two chunks checked twice, then asks as before.
    outcome: dict[str, Any] = {"job": job, "assume_new": True}

    def write() -> None:
        try:
            with asynchronous_commits():  # this thread's own connection, closed below
                while (item := handoff.get()) is not None:
                    batch, checked = item
                    outcome["job"] = _chunk(job.pk, claim, plan, batch, checked)
                    if checked.clashed:
                        outcome["assume_new"] = False
                    if progress:
                        progress(outcome["job"])
        except BaseException as exc:  # handed to the reading thread, which raises it
            outcome["error"] = exc
            while handoff.get() is not None:  # let the reader finish its put
                pass
        finally:
            connection.close()

    writer = threading.Thread(target=write, name=f"import-{job.pk}-writer", daemon=True)
    # The writer mostly waits for the database; when its answer comes it should get the
    # interpreter back at once, not after the reader's default 5 ms turn (measured: the
    # import took 15% longer with the default).
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    writer.start()
    try:
        with one_revision():
            for batch in batches:
                if "error" in outcome:
                    break
                checked = check_chunk(plan, batch, assume_new=outcome["assume_new"])
                prepare(plan, checked, job.actor_id)
                handoff.put((batch, checked))
    finally:
        handoff.put(None)
        writer.join()
        sys.setswitchinterval(switch)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["job"]


def _still_current(checked: Checked) -> bool:
    """Lock the records a pre-checked chunk updates; are they as the check read them?"""
    targets = {e.record.pk: e.record.version for e in checked.entries if e.record is not None}
    if not targets:
        return True
    now = dict(
        Record.objects.select_for_update().filter(pk__in=list(targets)).values_list("pk", "version")
    )
    return now == targets


def _chunk(
    job_id: int,
    claim: str,
    plan: Plan,
    batch: list[tuple[int, list[Any]]],
    checked: Checked | None = None,
) -> ImportJob:
    """Write one chunk and move the job's cursor, in one transaction.

    ``checked``: the chunk as checked before this transaction (by ``pipelined``); it is
    checked again here if a record it updates changed since, or if writing it clashes
    with a unique index (a record the chunk before created): that transaction is rolled
    back and the chunk written in a new one, checked under lock. (A savepoint around the
    first try cost every chunk two more round trips for what happens once in a file.)
    """
    if checked is not None:
        try:
            return _chunk_transaction(job_id, claim, plan, batch, checked)
        except IntegrityError:
            checked.clashed = True
    return _chunk_transaction(job_id, claim, plan, batch, None)


def _chunk_transaction(
    job_id: int,
    claim: str,
    plan: Plan,
    batch: list[tuple[int, list[Any]]],
    checked: Checked | None,
) -> ImportJob:
    with one_revision(), transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.claim != claim or job.status != ImportStatus.RUNNING:
            raise Stop
        fresh = [r for r in batch if r[0] > job.cursor]  # a chunk someone else committed
        if not fresh:
            return job
        if len(fresh) != len(batch) or (checked is not None and not _still_current(checked)):
            checked = None
        batch = fresh
        comment = f"import #{job.pk}"
        if checked is not None:  # a clash raises IntegrityError: _chunk checks it again
            write_chunk(plan, checked, actor=job.actor, comment=comment)
        else:
            checked = check_chunk(plan, batch, lock=True)
            try:
                with transaction.atomic():
                    write_chunk(plan, checked, actor=job.actor, comment=comment)
            except IntegrityError:  # a concurrent writer took a unique value: one by one
                refused = write_rows_one_by_one(plan, checked, actor=job.actor, comment=comment)
                cells = dict((n, c) for n, c in batch)
                for entry in checked.entries:
                    number = entry.rows[-1]
                    if number in refused:
                        errors = plan.field_errors(number, refused[number])
                        checked.rejected.append((number, cells[number], errors))
                checked.entries = [e for e in checked.entries if e.rows[-1] not in refused]
        RejectedRow.objects.bulk_create(
            [
                RejectedRow(
                    job_id=job.pk,
                    row=number,
                    cells=[c if isinstance(c, str) else str(c) for c in cells],
                    errors=[e.as_dict() for e in errors],
                )
                for number, cells, errors in checked.rejected
            ],
            ignore_conflicts=True,
        )
        job.cursor = batch[-1][0]
        job.rows_done += len(batch)
        job.created += checked.creates
        job.updated += checked.updates
        job.unchanged += checked.unchanged
        job.rejected += len(checked.rejected)
        job.heartbeat_at = timezone.now()
        counters = ["created", "updated", "unchanged", "rejected"]
        job.save(update_fields=["cursor", "rows_done", "heartbeat_at", *counters])
    return job


def _finish(job_id: int, claim: str, status: str, errors: list[FieldError] = ()) -> ImportJob:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.claim == claim and job.status == ImportStatus.RUNNING:
            job.status = status
            job.finished_at = timezone.now()
            job.errors = [e.as_dict() for e in errors]
            job.save(update_fields=["status", "finished_at", "errors"])
    if job.status in (ImportStatus.DONE, ImportStatus.FAILED):
        from .jobs import forget_upload

        forget_upload(job)
    return job
