"""Template packs in the admin: the library and what is installed; a plan before every
install, upgrade or uninstall, with conflicts resolved per definition. ``templates_lib``'s
service does the work, as it does for the command line and GraphQL."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe
from packaging.version import Version

from templates_lib import service as packs
from templates_lib.library import Library
from templates_lib.models import InstalledPack, PackLog
from templates_lib.problems import PackRefused

from ..access import MANAGE_PACKS, VIEW_PACKS, admin_view


def _candidate(key: str):
    found = Library().candidates(key)
    if not found:
        raise Http404("no such pack in the library")
    return found[0]


@admin_view(VIEW_PACKS)
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    installed = {p.key: p for p in packs.installed()}
    newest = {}
    for candidate in packs.available():
        newest.setdefault(candidate.key, candidate)
    rows = []
    for key in sorted(set(newest) | set(installed)):
        candidate, have = newest.get(key), installed.get(key)
        manifest = candidate.manifest if candidate else have.manifest
        rows.append(
            {
                "key": key,
                "name": manifest.get("name") or {},
                "description": manifest.get("description") or "",
                "available": str(candidate.version) if candidate else "",
                "installed": have.version if have else "",
                "upgrade": bool(candidate and have and candidate.version > Version(have.version)),
            }
        )
    logs = PackLog.objects.select_related("actor")[:20]
    return TemplateResponse(request, "builders/packs.html", {"rows": rows, "logs": logs})


def _resolutions(request: HttpRequest) -> dict[str, str]:
    return {
        name[len("resolve:") :]: value
        for name, value in request.POST.items()
        if name.startswith("resolve:") and value in ("mine", "theirs")
    }


@admin_view(VIEW_PACKS)
@require_safe
def plan(request: HttpRequest, key: str) -> HttpResponse:
    candidate = _candidate(key)
    result = packs.plan(candidate.read())
    return TemplateResponse(
        request,
        "builders/pack_plan.html",
        {
            "key": key,
            "plan": result,
            "text": result.render(),
            "mode": "upgrade" if InstalledPack.objects.filter(key=key).exists() else "install",
        },
    )


@admin_view(VIEW_PACKS, MANAGE_PACKS)
@require_POST
def install(request: HttpRequest, key: str) -> HttpResponse:
    candidate = _candidate(key)
    resolutions = _resolutions(request)
    upgrading = InstalledPack.objects.filter(key=key).exists()
    try:
        if upgrading:
            packs.upgrade(candidate.read(), resolutions=resolutions, actor=request.user)
        else:
            packs.install(
                candidate.read(),
                resolutions=resolutions,
                actor=request.user,
                sample=request.POST.get("sample") == "on",
            )
    except packs.UnresolvedConflicts as exc:
        return TemplateResponse(
            request,
            "builders/pack_plan.html",
            {"key": key, "plan": exc.plan, "text": exc.plan.render(), "mode": "upgrade"},
            status=409,
        )
    except PackRefused as exc:
        messages.error(
            request,
            _("The pack was refused: %(p)s") % {"p": "; ".join(str(p) for p in exc.problems[:5])},
        )
        return redirect("builders:pack-plan", key)
    messages.success(
        request, (_("Upgraded %(key)s.") if upgrading else _("Installed %(key)s.")) % {"key": key}
    )
    return redirect("builders:packs")


@admin_view(VIEW_PACKS, MANAGE_PACKS)
def uninstall(request: HttpRequest, key: str) -> HttpResponse:
    if not InstalledPack.objects.filter(key=key).exists():
        raise Http404("not installed")
    delete_data = request.POST.get("delete_data") == "on"
    if request.method != "POST":
        result = packs.uninstall(key, dry_run=True)
        return TemplateResponse(
            request,
            "builders/pack_uninstall.html",
            {"key": key, "plan": result, "text": result.render()},
        )
    try:
        packs.uninstall(key, delete_data=delete_data, actor=request.user)
    except PackRefused as exc:
        messages.error(
            request,
            _("Could not uninstall: %(p)s") % {"p": "; ".join(str(p) for p in exc.problems[:5])},
        )
        return redirect("builders:pack-uninstall", key)
    messages.success(request, _("Uninstalled %(key)s.") % {"key": key})
    return redirect("builders:packs")
