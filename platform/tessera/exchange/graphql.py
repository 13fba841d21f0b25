"""GraphQL fields of data exchange, added through the API's extension registry.

Query ``duplicateCandidates`` (pairs to review) and ``importJob`` (progress); mutations
``mergeRecords`` and ``unmergeRecords``. Merging needs the update and delete rights on the
object and both records among the rows the person may update; refusals come back as field
errors by path, and nothing is written.
"""

from __future__ import annotations

from typing import Any

import graphene

from tessera.api.errors import FieldErrorType, api_error, denied, field_errors
from tessera.api.extensions import SchemaExtension
from tessera.api.scalars import JSON
from tessera.definitions.errors import ValidationFailed
from tessera.records.models import Record

from . import merge as merging
from .models import DuplicateCandidate, ImportJob, Merge

MAX_CANDIDATES = 500


class DuplicateCandidateType(graphene.ObjectType):
    class Meta:
        name = "ExchangeDuplicateCandidate"

    id = graphene.Int(required=True)
    first = graphene.Int(required=True, description="record id (the older)")
    second = graphene.Int(required=True)
    reason = graphene.String(required=True, description="email, phone, name+city…")
    score = graphene.Float(required=True)
    status = graphene.String(required=True, description="open, merged or dismissed")


class ImportJobType(graphene.ObjectType):
    class Meta:
        name = "ExchangeImportJob"

    id = graphene.Int(required=True)
    object = graphene.String(required=True)
    status = graphene.String(required=True)
    total_rows = graphene.Int()
    rows_done = graphene.Int(required=True)
    created = graphene.Int(required=True)
    updated = graphene.Int(required=True)
    unchanged = graphene.Int(required=True)
    rejected = graphene.Int(required=True)
    errors = JSON(required=True, description="why the file was refused, by path")


class MergePayload(graphene.ObjectType):
    class Meta:
        name = "ExchangeMergePayload"

    merge = graphene.Int(description="the merge's id, to undo it")
    record = graphene.Int(description="the survivor")
    errors = graphene.List(graphene.NonNull(FieldErrorType), required=True)


class UnmergePayload(graphene.ObjectType):
    class Meta:
        name = "ExchangeUnmergePayload"

    ok = graphene.Boolean(required=True)
    errors = graphene.List(graphene.NonNull(FieldErrorType), required=True)


def _may_merge(ctx, object_key: str, ids: list[int]) -> None:
    ctx.require(object_key, "update")
    ctx.require(object_key, "delete")
    rows = Record.objects.filter(object_key=object_key, pk__in=ids)
    if ctx.policy.rows(object_key, rows, "update").count() != len(set(ids)):
        raise denied(f"update these {object_key} records")


def _candidates(root, info, object: str, status: str = "open", first: int = 50):
    info.context.require(object, "read")
    if not 0 <= first <= MAX_CANDIDATES:
        raise api_error("page_size", f"first is 0 to {MAX_CANDIDATES}")
    pairs = DuplicateCandidate.objects.filter(object_key=object, status=status)
    visible = set(
        info.context.policy.rows(object, Record.objects.filter(object_key=object)).values_list(
            "pk", flat=True
        )
    )
    out = []
    for pair in pairs.order_by("-score", "first_id")[: first * 4]:
        if pair.first_id in visible and pair.second_id in visible:
            out.append(
                {
                    "id": pair.pk,
                    "first": pair.first_id,
                    "second": pair.second_id,
                    "reason": pair.reason,
                    "score": pair.score,
                    "status": pair.status,
                }
            )
        if len(out) >= first:
            break
    return out


def _import_job(root, info, id: int):
    user = info.context.user
    job = ImportJob.objects.filter(pk=id).first()
    if job is None or not (user.is_staff or user.is_superuser or job.actor_id == user.pk):
        return None
    return {
        "id": job.pk,
        "object": job.object_key,
        "status": job.status,
        "total_rows": job.total_rows,
        "rows_done": job.rows_done,
        "created": job.created,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "rejected": job.rejected,
        "errors": job.errors,
    }


def _merge(root, info, object: str, survivor: int, duplicate: int, **kwargs: Any):
    ctx = info.context
    _may_merge(ctx, object, [survivor, duplicate])
    try:
        done = merging.merge(
            object,
            survivor,
            duplicate,
            rules=kwargs.get("rules") or {},
            choices=kwargs.get("choices") or {},
            default=kwargs.get("default") or "fill",
            actor=ctx.user,
        )
    except ValidationFailed as exc:
        return {"merge": None, "record": None, "errors": field_errors(exc.errors)}
    return {"merge": done.pk, "record": done.survivor_id, "errors": []}


def _unmerge(root, info, merge: int):
    ctx = info.context
    entry = Merge.objects.filter(pk=merge).first()
    if entry is None:
        raise api_error("not_found", f"no merge #{merge}")
    _may_merge(ctx, entry.object_key, [entry.survivor_id])
    try:
        merging.unmerge(entry, actor=ctx.user)
    except ValidationFailed as exc:
        return {"ok": False, "errors": field_errors(exc.errors)}
    return {"ok": True, "errors": []}


class ExchangeFields(SchemaExtension):
    """Duplicates, merges and import progress over GraphQL."""

    type = "exchange"

    def query_fields(self, build: Any) -> dict[str, graphene.Field]:
        return {
            "duplicate_candidates": graphene.Field(
                graphene.List(graphene.NonNull(DuplicateCandidateType)),
                required=True,
                object=graphene.String(required=True),
                status=graphene.String(default_value="open"),
                first=graphene.Int(default_value=50),
                resolver=_candidates,
                description="likely duplicate pairs of an object, strongest first",
            ),
            "import_job": graphene.Field(
                ImportJobType,
                id=graphene.Int(required=True),
                resolver=_import_job,
                description="an import's progress (yours, or any for staff)",
            ),
        }

    def mutation_fields(self, build: Any) -> dict[str, graphene.Field]:
        return {
            "merge_records": graphene.Field(
                MergePayload,
                required=True,
                object=graphene.String(required=True),
                survivor=graphene.Int(required=True),
                duplicate=graphene.Int(required=True),
                rules=JSON(description="{field: fill|survivor|duplicate|newest|longest|sum|union}"),
                choices=JSON(description="{field: survivor|duplicate}"),
                default=graphene.String(description="the rule of fields without one (fill)"),
                resolver=_merge,
            ),
            "unmerge_records": graphene.Field(
                UnmergePayload,
                required=True,
                merge=graphene.Int(required=True),
                resolver=_unmerge,
            ),
        }
