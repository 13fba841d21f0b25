"""Template packs: plan, install, upgrade, uninstall, export. The one entry for every surface.

``manage.py pack``, the GraphQL mutations and the admin call these functions, so they all
refuse the same packs with the same problems. A pack is named by a path (a folder or a
``.zip``) or by its key, looked up in the library (built-in packs, ``TESSERA_PACKS["dirs"]``
and the folders the caller adds).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from django.db import transaction
from packaging.version import Version

from tessera.definitions.models import Definition, Status

from . import installer, settings_files
from . import uninstall as removal
from .export import Exported, export_pack, selection
from .library import Library
from .models import InstalledDefinition, InstalledPack
from .pack import Pack, read_pack
from .plan import PackPlan, Plan, pack_steps
from .problems import PackRefused, Problem
from .references import reference_paths
from .requirements import plugin_problems
from .resolve import resolve

__all__ = [
    "Exported",
    "PackRefused",
    "Plan",
    "UnresolvedConflicts",
    "available",
    "ensure",
    "export",
    "install",
    "installed",
    "plan",
    "uninstall",
    "upgrade",
]


class UnresolvedConflicts(Exception):
    """Definitions changed both here and by the pack; the plan shows them, nothing was written."""

    def __init__(self, plan: Plan):
        self.plan = plan
        names = ", ".join(f"{s.kind} {s.key}" for s in plan.conflicts)
        super().__init__(f"choose whose version wins for: {names}")


class _DryRun(Exception):
    """Raised inside a checking transaction to roll it back."""


def open_target(target: str | Path | Pack, library: Library) -> Pack:
    """The pack at a path, or the newest version of the pack with that key in the library."""
    if isinstance(target, Pack):
        return target
    path = Path(target)
    if path.exists() or "/" in str(target) or str(target).endswith(".zip"):
        return read_pack(path)
    best = library.best(str(target), [])
    if best is None:
        where = ", ".join(str(d) for d in library.dirs)
        raise PackRefused(
            [Problem("", "$", "not_found", f"no pack {target!r} at that path or in {where}")]
        )
    return best.read()


def plan(
    target: str | Path | Pack,
    *,
    mode: str | None = None,
    library: Iterable[str | Path] = (),
    resolutions: Mapping[str, str] | None = None,
    check: bool = True,
) -> Plan:
    """What installing (or upgrading to) the pack would do; writes nothing.

    ``mode`` defaults to upgrade when the pack is installed, install otherwise.
    ``check`` also rehearses the writes in a transaction that is rolled back, so the kinds'
    own checks and the publish steps (breaking changes, missing migrations) show up here.
    """
    lib = _library(target, library)
    try:
        pack = open_target(target, lib)
    except PackRefused as exc:
        return Plan(problems=exc.problems)
    if mode is None:
        mode = "upgrade" if InstalledPack.objects.filter(key=pack.key).exists() else "install"
    try:
        result = _compute(pack, mode, lib, dict(resolutions or {}))
        if check and not result.problems:
            result.problems += _rehearse(result)
    finally:
        pack.files.close()
    _close(result)
    return result


def install(
    target: str | Path | Pack,
    *,
    library: Iterable[str | Path] = (),
    resolutions: Mapping[str, str] | None = None,
    sample: bool = True,
    actor=None,
    progress=None,
) -> Plan:
    """Install the pack and the dependencies it lacks, in one transaction."""
    return _write(target, "install", library, resolutions, sample, actor, progress)


def ensure(
    target: str | Path | Pack,
    *,
    library: Iterable[str | Path] = (),
    resolutions: Mapping[str, str] | None = None,
    sample: bool = True,
    actor=None,
    progress=None,
) -> Plan:
    """Install the pack, upgrade an older installed version, or do nothing: for scripts.

    ``./tessera up`` runs this on every start; a newer installed version is left alone.
    """
    dirs = list(library)
    if isinstance(target, str | Path) and Path(target).exists():
        dirs.append(Path(target).resolve().parent)
    pack = open_target(target, Library(dirs))
    have = InstalledPack.objects.filter(key=pack.key).first()
    if have is not None and Version(have.version) >= pack.version:
        pack.files.close()
        reason = "installed already: nothing to do"
        return Plan(
            packs=[PackPlan(have.key, have.name, "installed", have.version, have.version, reason)]
        )
    if have is not None:
        return _write(pack, "upgrade", dirs, resolutions, False, actor, progress)
    return _write(pack, "install", dirs, resolutions, sample, actor, progress)


def upgrade(
    target: str | Path | Pack,
    *,
    library: Iterable[str | Path] = (),
    resolutions: Mapping[str, str] | None = None,
    actor=None,
    progress=None,
) -> Plan:
    """Upgrade an installed pack to this newer version, in one transaction."""
    return _write(target, "upgrade", library, resolutions, False, actor, progress)


def uninstall(
    key: str, *, delete_data: bool = False, actor=None, progress=None, dry_run: bool = False
) -> Plan:
    """Remove what the pack installed; the data of its objects stays unless ``delete_data``."""
    result = removal.plan_uninstall(key, delete_data=delete_data)
    if result.problems:
        if dry_run:
            return result
        raise PackRefused(result.problems)
    if dry_run:
        result.problems += _rehearse_uninstall(result, delete_data)
        return result
    with transaction.atomic():
        removal.apply_uninstall(result, delete_data=delete_data, actor=actor, progress=progress)
    return result


def export(
    out: str | Path,
    *,
    key: str,
    version: str,
    refs: Iterable[tuple[str, str]] = (),
    pack: str | None = None,
    everything: bool = False,
    name: dict[str, str] | None = None,
    with_data: bool = False,
    include_references: bool = True,
) -> Exported:
    """Write the chosen definitions (and what they refer to) as a pack at ``out``."""
    chosen = selection(refs, pack=pack, everything=everything)
    if not chosen:
        raise PackRefused([Problem("", "$", "empty", "nothing to export: name definitions")])
    return export_pack(
        chosen,
        Path(out),
        key=key,
        version=version,
        name=name,
        with_data=with_data,
        include_references=include_references,
    )


def installed() -> list[InstalledPack]:
    return list(InstalledPack.objects.all())


def available(library: Iterable[str | Path] = ()) -> list[Any]:
    """Every pack the library holds (newest first per key), installed or not."""
    return sorted(Library(library).candidates(), key=lambda c: c.key)  # stable: newest first


# --- internals ---------------------------------------------------------------------------


def _library(target: Any, extra: Iterable[str | Path]) -> Library:
    dirs = list(extra)
    if isinstance(target, str | Path) and Path(target).exists():
        dirs.append(Path(target).resolve().parent)  # its siblings may be its dependencies
    return Library(dirs)


def _compute(pack: Pack, mode: str, lib: Library, resolutions: dict[str, str]) -> Plan:
    result = Plan()
    resolution = resolve(pack, lib, mode)
    result.problems += resolution.problems
    for have, by in resolution.satisfied:
        result.packs.append(
            PackPlan(
                have.key, have.name, "installed", have.version, have.version, f"needed by {by}"
            )
        )
    for needed in resolution.needed:
        candidate = needed.pack
        result.problems += plugin_problems(candidate.manifest)
        this_mode = "upgrade" if needed.installed is not None else "install"
        steps, problems = pack_steps(candidate, needed.installed, resolutions)
        result.problems += problems
        pack_plan = PackPlan(
            candidate.key,
            candidate.name,
            this_mode,
            candidate.version_text,
            needed.installed.version if needed.installed else None,
            needed.reason,
            steps,
            pack=candidate,
        )
        if this_mode == "install":
            pack_plan.sample = [
                f"{e.label} ({e.rows} rows)" if e.rows is not None else e.label
                for e in candidate.sample
            ]
        pack_plan.sample += [
            f"settings: {settings_files.label(spec)}"
            for spec in candidate.manifest.get("settings") or []
        ]
        result.packs.append(pack_plan)
    result.problems += _unknown_references(result)
    return result


def _unknown_references(result: Plan) -> list[Problem]:
    """References that nothing will provide: not in the packs of the plan, not published here.

    The kinds' checks catch most of them at publish; this also covers kinds that have no
    check (a screen naming an object), and says which pack file and path to fix.
    """
    provided = set(Definition.objects.filter(status=Status.PUBLISHED).values_list("kind", "key"))
    for pack_plan in result.packs:
        provided -= {s.ref for s in pack_plan.steps if s.removal}
        if pack_plan.pack is not None:
            provided |= set(pack_plan.pack.definitions)
        elif pack_plan.mode == "installed":
            provided |= set(
                InstalledDefinition.objects.filter(pack__key=pack_plan.key).values_list(
                    "kind", "key"
                )
            )
    problems = []
    for pack_plan in result.packs:
        if pack_plan.pack is None:
            continue
        for item in pack_plan.pack.definitions.values():
            for (kind, key), path in reference_paths(item.kind, item.key, item.body):
                if (kind, key) not in provided:
                    problems.append(
                        Problem(
                            item.file,
                            path,
                            "unknown_reference",
                            f"{kind} {key!r} is not in this pack, nor in the packs it depends "
                            "on, nor published here",
                            pack=pack_plan.key,
                        )
                    )
    return problems


def _rehearse(result: Plan) -> list[Problem]:
    """Run the writes in a transaction that is always rolled back; return what refused."""
    try:
        with transaction.atomic():
            installer.apply(result, sample=False)
            raise _DryRun
    except _DryRun:
        return []
    except PackRefused as exc:
        return exc.problems


def _rehearse_uninstall(result: Plan, delete_data: bool) -> list[Problem]:
    try:
        with transaction.atomic():
            removal.apply_uninstall(result, delete_data=delete_data)
            raise _DryRun
    except _DryRun:
        return []
    except PackRefused as exc:
        return exc.problems


def _write(target, mode, library, resolutions, sample, actor, progress) -> Plan:
    lib = _library(target, library)
    pack = open_target(target, lib)
    result = Plan()
    try:
        with transaction.atomic():  # planned and written against the same state
            result = _compute(pack, mode, lib, dict(resolutions or {}))
            if result.problems:
                raise PackRefused(result.problems)
            if result.conflicts:
                raise UnresolvedConflicts(result)
            installer.apply(result, sample=sample, actor=actor, progress=progress)
    finally:
        pack.files.close()
        _close(result)
    return result


def _close(result: Plan) -> None:
    """Release the packs' files (a zip stays open while its sample data loads)."""
    for pack_plan in result.packs:
        if pack_plan.pack is not None:
            pack_plan.pack.files.close()
