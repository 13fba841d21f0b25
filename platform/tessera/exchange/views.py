"""HTTP: ingestion from order systems, exports, rejected rows of an import. Thin on purpose."""

from __future__ import annotations

import csv
import io
import logging

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from tessera.api.auth import identify

from . import export as exporting
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
    from .reading import open_table

    try:
        with open_table(job.path, encoding=job.encoding or None) as table:
            header = table.header
    except Exception:  # the file is gone or broken: the cells still say enough
        header = []
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
