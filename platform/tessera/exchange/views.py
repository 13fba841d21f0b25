"""HTTP: ingestion from order systems, exports, rejected rows of an import. Thin on purpose."""

from __future__ import annotations

import csv
import io
import json
import logging

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from tessera.api.auth import identify
from tessera.api.permissions import Policy

from . import export as exporting
from . import importer, jobs
from . import ingest as ingesting
from .models import ImportJob

logger = logging.getLogger(__name__)


def _error(status: int, code: str, message: str, errors=()) -> JsonResponse:
    body = {"error": {"code": code, "message": message}}
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    return JsonResponse(body, status=status)


@csrf_exempt
def ingest(request: HttpRequest, source: str, object_key: str) -> HttpResponse:
    """``POST /ingest/<source>/<object>``: signed items in, a result per item out."""
    if request.method != "POST":
        response = _error(405, "method", "use POST")
        response["Allow"] = "POST"
        return response
    length = request.META.get("CONTENT_LENGTH") or "0"
    limit = ingesting.settings.TESSERA_EXCHANGE["ingest_body_bytes"]
    if not length.isdigit() or int(length) > limit:
        return _error(413, "too_large", f"the body is over {limit} bytes")
    body = request.body
    try:
        found = ingesting.verify(
            source,
            request.headers.get(ingesting.TIMESTAMP_HEADER),
            request.headers.get(ingesting.SIGNATURE_HEADER),
            body,
        )
        items, many = ingesting.parse_body(body)
        results = ingesting.ingest(found, object_key, items, many=many)
    except ingesting.Refused as exc:
        return _error(exc.status, exc.code, exc.message, exc.errors)
    if not many:
        result = results[0]
        status = {"created": 201, "refused": 422}.get(result.status, 200)
        return JsonResponse(result.as_dict(), status=status)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    return JsonResponse({"counts": counts, "results": [r.as_dict() for r in results]})


@require_GET
def export(request: HttpRequest, object_key: str, extension: str) -> HttpResponse:
    """``GET /export/<object>.csv|.xlsx?segment=&fields=a,b``: what the caller may read."""
    caller = identify(request)
    if caller.problem:
        status, code, message = caller.problem
        return _error(status, code, message)
    if "read" not in caller.scopes:
        return _error(403, "scope", "this token lacks the 'read' scope")
    segment = request.GET.get("segment") or None
    fields = [f for f in request.GET.get("fields", "").split(",") if f.strip()] or None
    try:
        prepared = exporting.prepare(caller.user, object_key, segment=segment, fields=fields)
    except exporting.ExportRefused as exc:
        return _error(exc.status, exc.code, exc.message)
    name = exporting.file_name(prepared, extension, segment)
    if extension == "csv":
        response = StreamingHttpResponse(
            exporting.csv_chunks(prepared), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return FileResponse(
        exporting.xlsx_file(prepared),
        as_attachment=True,
        filename=name,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def rejected_csv(job: ImportJob) -> str:
    """The rejected rows of a job as CSV: row number, the reasons, then the original cells."""
    header = job.header if isinstance(job.header, list) else []
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "errors", *header])
    for row in job.rejected_rows.all().iterator(chunk_size=1000):
        reasons = "; ".join(
            f"{e.get('column') or e.get('field') or 'row'}: {e.get('message')}" for e in row.errors
        )
        writer.writerow([row.row, reasons, *row.cells])
    return out.getvalue()


@require_GET
def rejected_rows(request: HttpRequest, job_id: int) -> HttpResponse:
    """``GET /imports/<id>/rejected.csv``: for staff and for the person who started it."""
    caller = identify(request)
    if caller.problem:
        status, code, message = caller.problem
        return _error(status, code, message)
    job = ImportJob.objects.filter(pk=job_id).first()
    user = caller.user
    if job is None or not (user.is_staff or user.is_superuser or job.actor_id == user.pk):
        return _error(404, "not_found", f"no import #{job_id} of yours")
    response = HttpResponse("\ufeff" + rejected_csv(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-rejected.csv"'
    return response


def _json_field(request: HttpRequest, name: str, default):
    raw = request.POST.get(name)
    if raw in (None, ""):
        return default
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{name} is not JSON: {exc}") from None


@csrf_exempt
def upload(request: HttpRequest, object_key: str) -> HttpResponse:
    """``POST /imports/<object>`` (multipart: file, mapping, key, options, dry_run).

    A dry run answers with the full report and writes nothing; otherwise the job is made
    and sent to a worker (202, its URL to follow). The caller needs the create right (and
    update, with an upsert key) and write access to every mapped field.
    """
    from .checking import PlanRefused
    from .reading import FileProblem

    if request.method != "POST":
        response = _error(405, "method", "use POST")
        response["Allow"] = "POST"
        return response
    caller = identify(request)
    if caller.problem:
        status, code, message = caller.problem
        return _error(status, code, message)
    if "write" not in caller.scopes:
        return _error(403, "scope", "this token lacks the 'write' scope")
    upload_file = request.FILES.get("file")
    if upload_file is None:
        return _error(400, "file", "send the file as the multipart field 'file'")
    try:
        mapping = _json_field(request, "mapping", None)
        options = _json_field(request, "options", {})
    except ValueError as exc:
        return _error(400, "json", str(exc))
    if not isinstance(options, dict):
        return _error(400, "options", "options is a JSON object")
    key = [k.strip() for k in request.POST.get("key", "").split(",") if k.strip()]
    policy = Policy.for_user(caller.user)
    for action in ("create", *(("update",) if key else ())):
        if not policy.can(object_key, action):
            return _error(403, "denied", f"you may not {action} {object_key} records")
    path = jobs.keep_upload(upload_file.name, upload_file.chunks())
    try:
        if mapping is None:
            mapping = importer.preview(str(path), object_key, options=options, rows=0).mapping
        if not isinstance(mapping, dict):
            return _error(400, "mapping", "mapping is a JSON object {column: field}")
        unwritable = policy.unwritable(object_key, [str(f) for f in mapping.values()])
        if unwritable:
            return _error(403, "denied", f"you may not write {', '.join(unwritable)}")
        if request.POST.get("dry_run") in ("1", "true", "yes"):
            report = importer.dry_run(str(path), object_key, mapping, key, options)
            path.unlink(missing_ok=True)
            return JsonResponse({"mapping": mapping, "report": report.as_dict()})
        job = jobs.create_job(
            path, object_key, mapping, key_fields=key, options=options, actor=caller.user,
            file_name=upload_file.name[:255],
        )  # fmt: skip
    except (FileProblem, PlanRefused) as exc:
        path.unlink(missing_ok=True)
        return _error(422, "refused", "the file or the mapping cannot be imported", exc.errors)
    jobs.start(job)
    return JsonResponse({"job": job.pk, "url": f"/imports/{job.pk}"}, status=202)


@require_GET
def job_status(request: HttpRequest, job_id: int) -> HttpResponse:
    """``GET /imports/<id>``: where an import is, for a progress bar."""
    caller = identify(request)
    if caller.problem:
        status, code, message = caller.problem
        return _error(status, code, message)
    job = ImportJob.objects.filter(pk=job_id).first()
    user = caller.user
    if job is None or not (user.is_staff or user.is_superuser or job.actor_id == user.pk):
        return _error(404, "not_found", f"no import #{job_id} of yours")
    fields = ("status", "total_rows", "rows_done", "created", "updated", "unchanged", "rejected")
    body = {name: getattr(job, name) for name in fields}
    body.update(
        id=job.pk, object=job.object_key, progress=round(job.progress, 4), errors=job.errors
    )
    if job.rejected:
        body["rejected_url"] = f"/imports/{job.pk}/rejected.csv"
    return JsonResponse(body)
