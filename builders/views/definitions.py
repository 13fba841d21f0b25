"""The definitions area of the admin: every kind listed, edited in its builder or as JSON,
saved as a draft, compared with the published version, published, rolled back; every step
logged with who did it. The store (``tessera.definitions.service``) does the work."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST, require_safe

from tessera.definitions import service
from tessera.definitions.diff import Change
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.definitions.models import Definition, Kind, Status

from ..access import CHANGE_DEFINITIONS, VIEW_DEFINITIONS, admin_view
from ..kinds import builder_for
from ..messages import describe
from ..models import Activity, ScreenPage

KIND_LABELS = {
    "object": (_l("Objects"), "Fields of a record type"),
    "segment": (_l("Segments"), "Records meeting a condition"),
    "workflow": (_l("Workflows"), "States, transitions, SLAs"),
    "campaign": (_l("Campaigns"), "Marketing flows"),
    "screen": (_l("Screens"), "What operators work in"),
    "calendar": (_l("Calendars"), "Business hours for SLAs"),
}


def _kind(kind: str) -> str:
    if kind not in Kind.values:
        raise Http404("no such kind")
    return kind


def _log(request, kind: str, key: str, action: str, version=None, comment: str = "") -> None:
    Activity.objects.create(
        user=request.user, kind=kind, key=key, version=version, action=action, comment=comment
    )


@admin_view(VIEW_DEFINITIONS)
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    counts = {
        row["kind"]: row
        for row in Definition.objects.values("kind").annotate(
            published=Count("id", filter=Q(status=Status.PUBLISHED)),
            drafts=Count("id", filter=Q(status=Status.DRAFT)),
        )
    }
    kinds = [
        {"kind": k, "label": str(KIND_LABELS[k][0]), "counts": counts.get(k, {})}
        for k in Kind.values
    ]
    recent = Activity.objects.select_related("user")[:15]
    return TemplateResponse(request, "builders/index.html", {"kinds": kinds, "recent": recent})


@admin_view(VIEW_DEFINITIONS)
@require_safe
def listing(request: HttpRequest, kind: str) -> HttpResponse:
    kind = _kind(kind)
    rows: dict[str, dict[str, Any]] = {}
    for d in (
        Definition.objects.filter(kind=kind)
        .exclude(status=Status.ARCHIVED)
        .select_related("author")
    ):
        row = rows.setdefault(d.key, {"key": d.key, "label": "", "published": None, "draft": None})
        row[d.status] = d
        label = d.body.get("x-label") if isinstance(d.body, dict) else None
        if isinstance(label, dict) and not row["label"]:
            row["label"] = label.get(
                "zh" if request.LANGUAGE_CODE.startswith("zh") else "en"
            ) or label.get("en", "")
    archived = (
        Definition.objects.filter(kind=kind, status=Status.ARCHIVED)
        .exclude(key__in=list(rows))
        .values_list("key", flat=True)
        .distinct()
    )
    for key in archived:
        rows[key] = {"key": key, "label": "", "published": None, "draft": None, "archived": True}
    pages = {}
    if kind == "screen":
        pages = {p.screen_key: p for p in ScreenPage.objects.filter(screen_key__in=list(rows))}
    for key, row in rows.items():
        row["page"] = pages.get(key)
    return TemplateResponse(
        request,
        "builders/listing.html",
        {
            "kind": kind,
            "kind_label": KIND_LABELS[kind][0],
            "rows": sorted(rows.values(), key=lambda r: r["key"]),
        },
    )


def _diff_rows(old: Any, new: Any) -> list[Change]:
    from tessera.definitions import diff as diffing

    return diffing.diff(old or {}, new or {})


def _working_body(request, kind: str, draft, published) -> tuple[Any, list[FieldError]]:
    """The body being edited: what the form posted, else the draft, else the published one."""
    if request.method == "POST":
        text = (
            request.POST.get("body_json")
            if request.POST.get("mode") == "json"
            else request.POST.get("body")
        )
        try:
            body = json.loads(text or "{}")
        except ValueError as exc:
            return None, [FieldError("$", "not_json", _("This is not JSON: %(e)s") % {"e": exc})]
        return body, []
    if draft is not None:
        return draft.body, []
    if published is not None:
        return published.body, []
    return builder_for(kind).new_body(), []


@admin_view(VIEW_DEFINITIONS, CHANGE_DEFINITIONS)
def edit(request: HttpRequest, kind: str, key: str | None = None) -> HttpResponse:
    kind = _kind(kind)
    builder = builder_for(kind)
    new = key is None
    if new:
        key = (request.POST.get("key") or "").strip()
    draft = service.draft(kind, key) if key else None
    published = service.current(kind, key) if key else None
    if (
        not new
        and draft is None
        and published is None
        and not Definition.objects.filter(kind=kind, key=key).exists()
    ):
        raise Http404("no such definition")
    mode = (
        request.POST.get("mode")
        or request.GET.get("mode")
        or ("builder" if builder.template else "json")
    )
    body, errors = _working_body(request, kind, draft, published)
    op = request.POST.get("op", "")
    report = None
    if body is not None and request.method == "POST" and mode == "builder" and builder.template:
        body = builder.apply(body, request.POST)
    if body is not None and op in ("save", "publish"):
        try:
            service.check_key(kind, key)
            saved = service.save_draft(
                kind, key, body, author=request.user, comment=request.POST.get("comment", "")
            )
            _log(request, kind, key, "draft", saved.version, request.POST.get("comment", ""))
            if op == "publish":
                migration = None
                if request.POST.get("migration"):
                    migration = json.loads(request.POST["migration"])
                done = service.publish(kind, key, author=request.user, migration=migration)
                _log(request, kind, key, "publish", done.version, request.POST.get("comment", ""))
                messages.success(
                    request,
                    _("Published %(kind)s %(key)s version %(v)s.")
                    % {"kind": kind, "key": key, "v": done.version},
                )
            else:
                messages.success(request, _("Draft saved."))
            return redirect(reverse("builders:edit", args=[kind, key]) + f"?mode={mode}")
        except ValidationFailed as exc:
            errors = exc.errors
        except service.PublishRefused as exc:
            report = exc.report
            errors = [FieldError("$", "publish_refused", str(exc))]
        except ValueError as exc:  # a migration that is not JSON
            errors = [FieldError("$.migration", "not_json", str(exc))]
    elif body is not None and request.method == "POST":
        errors = (
            service.body_errors(kind, key or "new", body)
            if isinstance(body, dict)
            else [FieldError("$", "type", _("A definition is a JSON object."))]
        )
    described = [describe(e) for e in errors]
    slotted: dict[str, list] = {}
    loose = []
    for message in described:
        slot = builder.slot(message) if mode == "builder" else None
        if slot:
            slotted.setdefault(slot, []).append(message)
        else:
            loose.append(message)
    context = {
        "kind": kind,
        "kind_label": KIND_LABELS[kind][0],
        "key": key,
        "new": new,
        "draft": draft,
        "published": published,
        "body": body if body is not None else {},
        "body_json": request.POST.get("body_json")
        if body is None
        else json.dumps(body, ensure_ascii=False, indent=2),
        "mode": mode,
        "has_builder": bool(builder.template),
        "builder_template": builder.template,
        "errors": loose,
        "slots": slotted,
        "report": report,
        "diff": _diff_rows(published.body if published else {}, body) if body is not None else [],
        "can_write": request.can_write,
        "page": ScreenPage.objects.filter(screen_key=key).first()
        if kind == "screen" and key
        else None,
    }
    if body is not None and mode == "builder" and builder.template:
        context.update(builder.context(request, key or "", body))
        context["slot_messages"] = slotted
        context["preview"] = builder.preview(request, key or "", body)
    return TemplateResponse(request, "builders/edit.html", context)


@admin_view(VIEW_DEFINITIONS)
@require_safe
def history(request: HttpRequest, kind: str, key: str) -> HttpResponse:
    kind = _kind(kind)
    versions = list(
        Definition.objects.filter(kind=kind, key=key).select_related("author").order_by("-version")
    )
    if not versions:
        raise Http404("no such definition")
    published = next((v for v in versions if v.status == Status.PUBLISHED), None)
    rows = []
    for v in versions:
        rows.append(
            {
                "definition": v,
                "changes": _diff_rows(published.body if published else {}, v.body)
                if published and v is not published
                else [],
            }
        )
    activity = Activity.objects.filter(kind=kind, key=key).select_related("user")[:100]
    return TemplateResponse(
        request,
        "builders/history.html",
        {
            "kind": kind,
            "key": key,
            "rows": rows,
            "published": published,
            "activity": activity,
            "can_write": request.can_write,
        },
    )


@admin_view(VIEW_DEFINITIONS, CHANGE_DEFINITIONS)
@require_POST
def rollback(request: HttpRequest, kind: str, key: str, version: int) -> HttpResponse:
    """Publish an earlier version's body again, as the next version."""
    kind = _kind(kind)
    old = Definition.objects.filter(kind=kind, key=key, version=version).first()
    if old is None:
        raise Http404("no such version")
    try:
        service.save_draft(
            kind,
            key,
            old.body,
            author=request.user,
            comment=_("roll back to version %(v)s") % {"v": version},
        )
        done = service.publish(kind, key, author=request.user)
    except (ValidationFailed, service.PublishRefused) as exc:
        messages.error(request, _("Could not roll back: %(e)s") % {"e": exc})
        return redirect("builders:history", kind, key)
    _log(request, kind, key, "rollback", done.version, _("to version %(v)s") % {"v": version})
    messages.success(
        request,
        _("Version %(v)s is published again, as version %(n)s.")
        % {"v": version, "n": done.version},
    )
    return redirect("builders:history", kind, key)


@admin_view(VIEW_DEFINITIONS, CHANGE_DEFINITIONS)
@require_POST
def archive(request: HttpRequest, kind: str, key: str) -> HttpResponse:
    kind = _kind(kind)
    done = service.archive(kind, key)
    if done is not None:
        _log(request, kind, key, "archive", done.version)
        messages.success(
            request, _("Archived: operators and runs no longer use it; its data stays.")
        )
    return redirect("builders:listing", kind)
