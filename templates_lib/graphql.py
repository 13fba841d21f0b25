"""GraphQL fields for template packs, added through the API's extension registry.

Queries ``installedPacks`` and ``availablePacks``; mutations ``packPlan``, ``packInstall``,
``packUpgrade``, ``packUninstall`` and ``packExport``. Packs are named by key (and
optionally version) from the library on the server, never by a path: an API client does
not get to read the server's files. Every mutation needs the ``definitions`` scope and the
``templates_lib.manage_packs`` permission; a refusal comes back in the payload as problems
(pack, file, JSON path), like field errors, and nothing is written.
"""

from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path
from typing import Any

import graphene

from tessera.api.errors import api_error, denied
from tessera.api.extensions import SchemaExtension
from tessera.api.scalars import JSON

from . import service
from .library import Library
from .manifest import manifest_schema
from .plan import MINE, THEIRS, Plan
from .problems import PackRefused, Problem
from .service import UnresolvedConflicts

MAX_EXPORT_BYTES = 10 * 1024 * 1024
KEY = re.compile(manifest_schema()["properties"]["key"]["pattern"])


class PackProblemType(graphene.ObjectType):
    """Why a pack was refused: the pack, the file in it, the JSON path."""

    class Meta:
        name = "TemplatePackProblem"

    pack = graphene.String(required=True)
    file = graphene.String(required=True)
    path = graphene.String(required=True)
    code = graphene.String(required=True)
    message = graphene.String(required=True)
    line = graphene.Int()


class PackStepType(graphene.ObjectType):
    class Meta:
        name = "TemplatePackStep"

    kind = graphene.String(required=True)
    key = graphene.String(required=True)
    action = graphene.String(required=True, description="add, change, remove, keep, conflict…")
    reason = graphene.String(required=True)
    resolution = graphene.String()
    records = graphene.Int()
    changes = JSON(required=True, description="what applying does: [{path, op, old, new}]")
    mine = JSON(required=True, description="a conflict: the changes made here since install")
    theirs = JSON(required=True, description="a conflict: the pack's changes")


class PackPlanEntryType(graphene.ObjectType):
    class Meta:
        name = "TemplatePackPlanEntry"

    key = graphene.String(required=True)
    name = JSON(required=True)
    mode = graphene.String(required=True, description="install, upgrade, uninstall, installed")
    version = graphene.String(required=True)
    installed_version = graphene.String()
    reason = graphene.String(required=True)
    steps = graphene.List(graphene.NonNull(PackStepType), required=True)
    sample = graphene.List(graphene.NonNull(graphene.String), required=True)


class PackPlanPayload(graphene.ObjectType):
    """A plan, and whether it was carried out."""

    class Meta:
        name = "TemplatePackPlan"

    ok = graphene.Boolean(required=True)
    done = graphene.Boolean(required=True)
    packs = graphene.List(graphene.NonNull(PackPlanEntryType), required=True)
    problems = graphene.List(graphene.NonNull(PackProblemType), required=True)
    conflicts = graphene.List(graphene.NonNull(graphene.String), required=True)
    text = graphene.String(required=True, description="the plan as manage.py pack prints it")


class PackExportPayload(graphene.ObjectType):
    class Meta:
        name = "TemplatePackExport"

    archive = graphene.String(description="the pack as a .zip, base64-encoded")
    manifest = JSON()
    problems = graphene.List(graphene.NonNull(PackProblemType), required=True)


class InstalledPackType(graphene.ObjectType):
    class Meta:
        name = "TemplatePack"

    key = graphene.String(required=True)
    name = JSON(required=True)
    version = graphene.String(required=True)
    installed_at = graphene.String()
    definitions = graphene.List(graphene.NonNull(graphene.String), required=True)

    @staticmethod
    def resolve_installed_at(root, info):
        return root.installed_at.isoformat() if getattr(root, "installed_at", None) else None

    @staticmethod
    def resolve_definitions(root, info):
        if not hasattr(root, "definitions"):
            return []
        return [f"{d.kind}:{d.key}" for d in root.definitions.all()]


class AvailablePackType(graphene.ObjectType):
    class Meta:
        name = "TemplatePackAvailable"

    key = graphene.String(required=True)
    name = JSON(required=True)
    version = graphene.String(required=True)
    depends = JSON(required=True)


SideEnum = graphene.Enum(
    "TemplatePackSide",
    [("MINE", MINE), ("THEIRS", THEIRS)],
    description="whose version of a conflicting definition wins: this instance's or the pack's",
)


class ResolutionInput(graphene.InputObjectType):
    class Meta:
        name = "TemplatePackResolution"

    definition = graphene.String(required=True, description='"kind:key", or "*" for all')
    side = SideEnum(required=True)


def _allowed(info, *, write: bool) -> None:
    ctx = info.context
    if write:
        ctx.require_scope("definitions")
    perm = "templates_lib.manage_packs" if write else "templates_lib.view_installedpack"
    if ctx.user is None or not ctx.user.has_perm(perm):
        raise denied(("manage" if write else "read") + " template packs")


def _target(key: str, version: str | None):
    """The pack of that key (and version, else the newest) in the library: never a path."""
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise PackRefused([Problem("", "$.key", "invalid", "a pack key is a lower-case slug")])
    for candidate in Library().candidates(key):
        if version is None or version in (str(candidate.version), candidate.manifest["version"]):
            return candidate.read()
    wanted = f"{key} {version}" if version else key
    raise PackRefused([Problem("", "$.key", "not_found", f"no pack {wanted} in the library")])


def _resolutions(items) -> dict[str, str]:
    return {item.definition: getattr(item.side, "value", item.side) for item in items or []}


def _payload(plan: Plan | None, *, done: bool = False, problems=None) -> dict[str, Any]:
    plan = plan or Plan(problems=list(problems or []))
    data = plan.as_dict()
    return {
        "ok": plan.ok,
        "done": done,
        "packs": data["packs"],
        "problems": data["problems"],
        "conflicts": data["conflicts"],
        "text": plan.render(),
    }


def _plan(root, info, key, version=None, resolutions=None):
    _allowed(info, write=True)
    try:
        target = _target(key, version)
    except PackRefused as exc:
        return _payload(None, problems=exc.problems)
    return _payload(service.plan(target, resolutions=_resolutions(resolutions)))


def _write(action, info, key, version, resolutions, **more):
    _allowed(info, write=True)
    try:
        plan = action(
            _target(key, version),
            resolutions=_resolutions(resolutions),
            actor=info.context.user,
            **more,
        )
    except PackRefused as exc:
        return _payload(None, problems=exc.problems)
    except UnresolvedConflicts as exc:
        return _payload(exc.plan)
    return _payload(plan, done=True)


def _install(root, info, key, version=None, resolutions=None, sample=True):
    return _write(service.install, info, key, version, resolutions, sample=sample)


def _upgrade(root, info, key, version=None, resolutions=None):
    return _write(service.upgrade, info, key, version, resolutions)


def _uninstall(root, info, key, delete_data=False, dry_run=False):
    _allowed(info, write=True)
    try:
        plan = service.uninstall(
            key, delete_data=delete_data, dry_run=dry_run, actor=info.context.user
        )
    except PackRefused as exc:
        return _payload(None, problems=exc.problems)
    return _payload(plan, done=not dry_run and plan.ok)


def _export(root, info, key, version, definitions=(), pack=None, with_data=False):
    _allowed(info, write=True)
    refs = []
    for i, text in enumerate(definitions or []):
        kind, sep, def_key = text.partition(":")
        if not sep:
            problem = Problem("", f"$.definitions[{i}]", "invalid", "write kind:key")
            return {"problems": [problem.as_dict()]}
        refs.append((kind, def_key))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{key}.zip"
        try:
            done = service.export(
                out, key=key, version=version, refs=refs, pack=pack, with_data=with_data
            )
        except PackRefused as exc:
            return {"problems": exc.as_list()}
        done.pack.files.close()
        if out.stat().st_size > MAX_EXPORT_BYTES:
            raise api_error(
                "too_large", "the pack is larger than 10 MB: export it with manage.py pack export"
            )
        archive = base64.b64encode(out.read_bytes()).decode()
    return {"archive": archive, "manifest": done.manifest, "problems": []}


def _installed(root, info):
    _allowed(info, write=False)
    return service.installed()


def _available(root, info):
    _allowed(info, write=False)
    return [
        {
            "key": c.key,
            "name": c.manifest["name"],
            "version": c.manifest["version"],
            "depends": c.manifest.get("depends") or {},
        }
        for c in service.available()
    ]


class PackFields(SchemaExtension):
    """The template pack fields of every schema build."""

    type = "template-packs"

    def query_fields(self, build: Any) -> dict[str, graphene.Field]:
        return {
            "installed_packs": graphene.List(
                graphene.NonNull(InstalledPackType), required=True, resolver=_installed
            ),
            "available_packs": graphene.List(
                graphene.NonNull(AvailablePackType), required=True, resolver=_available
            ),
        }

    def mutation_fields(self, build: Any) -> dict[str, graphene.Field]:
        def target(**more: Any) -> dict[str, Any]:
            return {
                "key": graphene.String(required=True),
                "version": graphene.String(),
                "resolutions": graphene.List(graphene.NonNull(ResolutionInput)),
                **more,
            }

        return {
            "pack_plan": graphene.Field(PackPlanPayload, required=True, resolver=_plan, **target()),
            "pack_install": graphene.Field(
                PackPlanPayload,
                required=True,
                resolver=_install,
                **target(sample=graphene.Boolean(default_value=True)),
            ),
            "pack_upgrade": graphene.Field(
                PackPlanPayload, required=True, resolver=_upgrade, **target()
            ),
            "pack_uninstall": graphene.Field(
                PackPlanPayload,
                required=True,
                resolver=_uninstall,
                key=graphene.String(required=True),
                delete_data=graphene.Boolean(default_value=False),
                dry_run=graphene.Boolean(default_value=False),
            ),
            "pack_export": graphene.Field(
                PackExportPayload,
                required=True,
                resolver=_export,
                key=graphene.String(required=True, description="the new pack's key"),
                version=graphene.String(required=True),
                definitions=graphene.List(graphene.NonNull(graphene.String)),
                pack=graphene.String(description="export every definition of this pack"),
                with_data=graphene.Boolean(default_value=False),
            ),
        }
