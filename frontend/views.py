"""The operator UI's pages: thin views over the screen registry, the permission layer and the
engine's services (records, flows). Every view reads the person's rights once (``Policy``)."""

from __future__ import annotations

import csv
import functools
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tessera.api.permissions import Policy
from tessera.definitions.cache import one_revision
from tessera.definitions.errors import ValidationFailed
from tessera.flows import service as flows
from tessera.flows.errors import RunNotActive, TransitionRefused, VersionConflict
from tessera.flows.models import Run
from tessera.records import service as records
from tessera.records.models import Record

from . import screens
from .blocks import BlockContext, block_types
from .blocks.form import FormBlock, parse_value
from .blocks.record import record_context, visible_record
from .blocks.table import cell, relation_titles, table_rows
from .labels import field_label
from .messages import field_of, friendly
from .query import BlockProblem, ObjectView
from .work import MoveRefused, move

LANGUAGES = dict(settings.LANGUAGES)


def _activate_user_language(request: HttpRequest) -> None:
    """The person's own setting (their Wagtail profile) wins over the browser's."""
    user = request.user
    if not user.is_authenticated:
        return
    from wagtail.users.models import UserProfile

    chosen = UserProfile.get_for_user(user).preferred_language
    if chosen in LANGUAGES:
        translation.activate(chosen)
        request.LANGUAGE_CODE = chosen


def operator_view(view):
    """Signed-in people only; their language; one definitions revision for the request."""

    @login_required
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _activate_user_language(request)
        request.policy = Policy.for_user(request.user)
        with one_revision():
            return view(request, *args, **kwargs)

    return wrapped


def _nav(request) -> list[screens.Screen]:
    if not hasattr(request, "_screens"):
        request._screens = screens.visible(request.user, request.policy)
    return request._screens


def _page(request, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    context.setdefault("nav", _nav(request))
    context.setdefault("languages", settings.LANGUAGES)
    return render(request, template, context, status=status)


@operator_view
def home(request: HttpRequest) -> HttpResponse:
    return _page(request, "frontend/home.html", {})


def _block(request, screen: screens.Screen, index: int) -> BlockContext:
    if not 0 <= index < len(screen.body.get("blocks", [])):
        raise Http404("no such block")
    block = screen.body["blocks"][index]
    if not isinstance(block, dict) or block.get("type") not in block_types:
        raise Http404("no such block")
    return BlockContext(request, screen.key, screen.body, index, block, request.policy)


def _render_blocks(request, key: str, body: dict[str, Any], policy, *, preview=False) -> list:
    out = []
    for index, block in enumerate(body.get("blocks", [])):
        if not isinstance(block, dict) or block.get("type") not in block_types:
            continue
        ctx = BlockContext(request, key, body, index, block, policy, preview=preview)
        out.append({"type": block["type"], "html": block_types.get(block["type"]).render(ctx)})
    return out


@operator_view
def screen(request: HttpRequest, key: str) -> HttpResponse:
    shown = screens.get(key, request.user, request.policy)
    blocks = _render_blocks(request, shown.key, shown.body, request.policy)
    return _page(request, "frontend/screen.html", {"screen": shown, "blocks": blocks})


@operator_view
def block(request: HttpRequest, key: str, index: int) -> HttpResponse:
    """One block again (htmx: a table's filters, order and pages)."""
    shown = screens.get(key, request.user, request.policy)
    ctx = _block(request, shown, index)
    return HttpResponse(block_types.get(ctx.block["type"]).render(ctx))


class _Echo:
    def write(self, value: str) -> str:
        return value


@operator_view
def export(request: HttpRequest, key: str, index: int) -> HttpResponse:
    """The table's rows and columns as CSV, through the same checks as the page."""
    shown = screens.get(key, request.user, request.policy)
    ctx = _block(request, shown, index)
    if ctx.block["type"] != "table" or ctx.block.get("export") is False:
        raise Http404("this block has no export")
    try:
        view, columns, queryset, _shown, _sort, _local = table_rows(ctx)
    except BlockProblem as problem:
        return HttpResponseForbidden(str(problem))
    limit = settings.TESSERA_UI["export_rows"]
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # Excel reads UTF-8 (Chinese names) only with the byte-order mark
        yield writer.writerow(["id", *(field_label(view.body, n) for n in columns)])
        batch: list = []
        for record in queryset[:limit].iterator(chunk_size=2000):
            batch.append(record)
            if len(batch) == 500:
                yield from _csv_rows(writer, view, columns, batch)
                batch = []
        yield from _csv_rows(writer, view, columns, batch)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{shown.key}-{view.key}.csv"'
    return response


def _csv_rows(writer, view: ObjectView, columns: list[str], batch: list):
    related = relation_titles(view, columns, batch)
    for record in batch:
        yield writer.writerow([record.pk, *(cell(view, n, record.data, related) for n in columns)])


@require_POST
@operator_view
def submit(request: HttpRequest, key: str, index: int) -> HttpResponse:
    """A form block's record: created, or the form again with errors next to the inputs."""
    shown = screens.get(key, request.user, request.policy)
    ctx = _block(request, shown, index)
    if ctx.block["type"] != "form":
        raise Http404("not a form")
    renderer: FormBlock = block_types.get("form")
    try:
        view, names = renderer.fields(ctx)
    except BlockProblem:
        return HttpResponseForbidden(_("You may not create these records."))
    data = {}
    for name in names:
        value = parse_value(view.props[name], request.POST.getlist(name))
        if value is not None:
            data[name] = value
    errors: dict[str, str] = {}
    saved = None
    try:
        saved = records.create(view.key, data, actor=request.user)
    except ValidationFailed as exc:
        for error in exc.errors:
            name = field_of(error)
            target = name if name in names else ""
            message = friendly(error, view.props.get(name))
            if not target and name:
                message = f"{field_label(view.body, name)}: {message}"
            errors.setdefault(target, message)
    context = renderer.context(ctx, data={} if saved else data, errors=errors, saved=saved)
    if saved is not None:
        context["saved_url"] = ctx.record_url(view.key, saved.pk)
        context["saved_title"] = str(
            saved.data.get(view.body.get("x-title-field") or "", "") or f"#{saved.pk}"
        )
    context.update({"ctx": ctx, "block": ctx.block, "index": index, "type": "form"})
    if request.headers.get("HX-Request"):
        # htmx swaps 2xx answers only; the errors are in the markup, next to the inputs
        return render(request, "frontend/blocks/form.html", context)
    if saved is not None:
        return redirect(context["saved_url"])
    html = render(request, "frontend/blocks/form.html", context).content.decode()
    page = {"screen": shown, "blocks": [{"type": "form", "html": html}]}
    return _page(request, "frontend/screen.html", page, status=422)


@require_POST
@operator_view
def kanban_move(request: HttpRequest, key: str, index: int) -> HttpResponse:
    shown = screens.get(key, request.user, request.policy)
    ctx = _block(request, shown, index)
    if ctx.block["type"] != "kanban":
        raise Http404("not a kanban")
    try:
        run_id, version = int(request.POST["run"]), int(request.POST["version"])
    except (KeyError, ValueError):
        return HttpResponseBadRequest("run and version are needed")
    target = request.POST.get("to", "")
    renderer = block_types.get("kanban")
    message, status = "", 200
    try:
        flow = renderer.flow(ctx)
        run = Run.objects.filter(pk=run_id, flow_kind="workflow", flow_key=flow.key).first()
        if run is None:
            raise MoveRefused(_("No such card."))
        view = ObjectView.of(flow.object_key, request.policy)
        if not request.policy.rows(
            view.key, Record.objects.filter(pk=run.subject_id), "update"
        ).exists():
            raise MoveRefused(_("You may not change this record."))
        move(run, target, request.user, version=version)
    except (MoveRefused, BlockProblem) as exc:
        message, status = str(exc), 409
    except VersionConflict:
        message, status = _("Someone moved this card meanwhile; the board is up to date now."), 409
    except (TransitionRefused, RunNotActive) as exc:
        errors = getattr(exc, "errors", None)
        message = "; ".join(e.message for e in errors) if errors else str(exc)
        status = 409
    html = renderer.render(ctx)
    if message:
        html = f'<p class="flash error" role="alert">{_escape(message)}</p>' + html
    return HttpResponse(html, status=200 if request.headers.get("HX-Request") else status)


def _escape(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


def _record_view(request, object_key: str) -> ObjectView:
    try:
        return ObjectView.of(object_key, request.policy)
    except BlockProblem:
        raise Http404("no such record") from None


@operator_view
def record_page(request: HttpRequest, object_key: str, pk: int) -> HttpResponse:
    view = _record_view(request, object_key)
    try:
        record = visible_record(view, pk)
    except BlockProblem:
        raise Http404("no such record") from None
    context = record_context(view, record, {}, request)
    return _page(request, "frontend/record.html", context)


@require_POST
@operator_view
def take_transition(request: HttpRequest, object_key: str, pk: int) -> HttpResponse:
    view = _record_view(request, object_key)
    try:
        record = visible_record(view, pk)
    except BlockProblem:
        raise Http404("no such record") from None
    if not request.policy.rows(view.key, Record.objects.filter(pk=record.pk), "update").exists():
        return HttpResponseForbidden(_("You may not change this record."))
    run = Run.objects.filter(pk=request.POST.get("run") or 0, subject=record).first()
    if run is None:
        raise Http404("no such run")
    name = request.POST.get("transition", "")
    offered = {t["name"]: t for t in flows.available(run, request.user)}
    fields = {}
    if name in offered:
        for field in offered[name]["required_fields"]:
            if field in view.props:
                value = parse_value(view.props[field], request.POST.getlist(f"field.{field}"))
                if value is not None:
                    fields[field] = value
    unwritable = request.policy.unwritable(view.key, list(fields))
    error = ""
    if unwritable:
        error = _("You may not change: %(fields)s") % {"fields": ", ".join(unwritable)}
    else:
        try:
            flows.transition(
                run.pk,
                name,
                actor=request.user,
                version=int(request.POST.get("version") or 0),
                fields=fields,
                comment=request.POST.get("comment", ""),
            )
        except VersionConflict:
            error = _("Someone moved this record meanwhile; look again and retry.")
        except (TransitionRefused, RunNotActive) as exc:
            errors = getattr(exc, "errors", None) or []
            error = "; ".join(_refusal(view, e) for e in errors) or str(exc)
    target = request.POST.get("next") or reverse("frontend:record", args=[object_key, pk])
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("frontend:record", args=[object_key, pk])
    if error:
        context = record_context(view, record, {}, request)
        context["error"] = error
        return _page(request, "frontend/record.html", context, status=409)
    return HttpResponseRedirect(target)


def _refusal(view: ObjectView, error) -> str:
    name = field_of(error)
    text = friendly(error, view.props.get(name))
    return f"{field_label(view.body, name)}: {text}" if name else text


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the UI language: remembered in a cookie, and in the person's profile."""
    code = request.POST.get("language", "")
    target = request.POST.get("next") or reverse("frontend:home")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("frontend:home")
    response = HttpResponseRedirect(target)
    if code in LANGUAGES:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, code, samesite="Lax")
        if request.user.is_authenticated:
            from wagtail.users.models import UserProfile

            profile = UserProfile.get_for_user(request.user)
            profile.preferred_language = code
            profile.save(update_fields=["preferred_language"])
    return response


class LoginView(auth_views.LoginView):
    template_name = "frontend/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["languages"] = settings.LANGUAGES
        return context


def logout(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseBadRequest("sign out with POST")
    from django.contrib.auth import logout as sign_out

    sign_out(request)
    return redirect("frontend:login")
