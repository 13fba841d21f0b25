"""Import jobs: made from a file and a mapping, sent to a worker, resumed if the worker dies.

A job is sent to Celery once its row is committed. Delivery is at least once and a killed
worker's message may come back late or never (Redis hands it out again only after its
visibility timeout), so the tick also looks for running jobs whose heartbeat is older than
``TESSERA_EXCHANGE["stale_seconds"]`` and sends them again; the claim token keeps a late
duplicate from writing beside the new run.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tessera.definitions.cache import published
from tessera.definitions.errors import FieldError

from .checking import Plan
from .models import ImportJob, ImportStatus
from .reading import FileProblem, file_format, open_table


def upload_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def keep_upload(name: str, chunks) -> Path:
    """Store an uploaded file where workers read it (MEDIA_ROOT/imports), under a new name."""
    suffix = Path(name).suffix.lower()[:10] if Path(name).suffix else ".csv"
    target = upload_dir() / f"{uuid.uuid4().hex}{suffix}"
    with target.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return target


def create_job(
    path: str | Path,
    object_key: str,
    mapping: dict[str, str],
    *,
    key_fields: list[str] | None = None,
    options: dict[str, Any] | None = None,
    actor=None,
    copy: bool = False,
    file_name: str = "",
) -> ImportJob:
    """A pending job, after checking that the file opens and the mapping fits the object.

    ``copy``: keep a copy of the file under MEDIA_ROOT/imports (the original may go away).
    Raises FileProblem or PlanRefused; nothing is stored then.
    """
    path = Path(path).resolve()
    options = dict(options or {})
    if published("object", object_key) is None:
        raise FileProblem(
            [FieldError("$.object", "unknown_object", f"{object_key!r} is not a published object")]
        )
    with open_table(path, encoding=options.get("encoding")) as table:
        Plan(object_key, table.header, mapping, key_fields or [], options)
        encoding, header = table.encoding, table.header
    if copy:
        target = upload_dir() / f"{uuid.uuid4().hex}{path.suffix.lower()}"
        shutil.copyfile(path, target)
        path = target
    return ImportJob.objects.create(
        object_key=object_key,
        path=str(path),
        file_name=file_name or path.name,
        format=file_format(path.name),
        encoding=encoding,
        header=header,
        mapping=mapping,
        key_fields=list(key_fields or []),
        options=options,
        actor=actor,
    )


def forget_upload(job: ImportJob) -> None:
    """Remove the job's file once it is finished, if it is a copy kept under MEDIA_ROOT."""
    path = Path(job.path)
    if path.parent.resolve() == upload_dir().resolve():
        path.unlink(missing_ok=True)


def start(job: ImportJob) -> None:
    """Send the job to a worker once the transaction that made it commits."""
    from .tasks import run_import

    transaction.on_commit(lambda: run_import.delay(job.pk), robust=True)


def cancel(job: ImportJob) -> None:
    ImportJob.objects.filter(
        pk=job.pk, status__in=[ImportStatus.PENDING, ImportStatus.RUNNING]
    ).update(status=ImportStatus.CANCELLED, finished_at=timezone.now())


def resume_stalled() -> int:
    """A tick step: send again the jobs whose worker stopped reporting (killed, lost)."""
    from .tasks import run_import

    stale = dt.timedelta(seconds=float(settings.TESSERA_EXCHANGE["stale_seconds"]))
    cutoff = timezone.now() - stale
    ids = list(
        ImportJob.objects.filter(status=ImportStatus.RUNNING, heartbeat_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:100]
    )
    for pk in ids:
        # Moving the heartbeat stops the next tick from sending it again before it starts.
        ImportJob.objects.filter(pk=pk).update(heartbeat_at=timezone.now())
        run_import.delay(pk)
    return len(ids)
