"""Writing a plan: every pack of it, in one transaction, through the definitions service.

The caller holds the transaction (``service.install`` / ``upgrade``); a problem anywhere
raises PackRefused, which rolls back every definition, record, index and row of this app.
Sample data goes in once the pack's objects (and calendars) are published, before the
segments, workflows and campaigns that read it: segments count the sample records when
they are published, and campaigns do not greet thousands of sample customers.
"""

from __future__ import annotations

from typing import Any

from tessera.definitions import service
from tessera.definitions.errors import ValidationFailed
from tessera.definitions.models import Definition, Source
from tessera.definitions.service import PublishRefused

from . import settings_files
from .models import InstalledDefinition, InstalledPack, PackLog
from .pack import Pack, PackDefinition
from .plan import CONFLICT, PackPlan, Plan, Step
from .problems import PackRefused, Problem, from_errors
from .sample import SampleLoader

FIRST_KINDS = ("object", "calendar")


def apply(plan: Plan, *, sample: bool = True, actor=None, progress=None) -> dict[str, Any]:
    """Write every pack of the plan (dependencies first); returns a summary per pack."""
    summary = {}
    for pack_plan in plan.packs:
        if pack_plan.mode in ("install", "upgrade"):
            summary[pack_plan.key] = apply_pack(
                pack_plan, sample=sample, actor=actor, progress=progress
            )
    return summary


def apply_pack(pack_plan: PackPlan, *, sample: bool, actor, progress) -> dict[str, Any]:
    pack = pack_plan.pack
    assert pack is not None
    installed, created = InstalledPack.objects.get_or_create(
        key=pack.key,
        defaults={
            "name": pack.name,
            "version": pack.version_text,
            "manifest": pack.manifest,
            "installed_by": actor,
        },
    )
    if not created:
        installed.name, installed.version, installed.manifest = (
            pack.name,
            pack.version_text,
            pack.manifest,
        )
        installed.save()
    counts: dict[str, Any] = {"published": 0, "kept": 0, "archived": 0, "sample": {}}
    writing = [s for s in pack_plan.steps if not s.removal]
    last_first = max((i for i, s in enumerate(writing) if s.kind in FIRST_KINDS), default=-1)
    load_sample = pack_plan.mode == "install" and sample and bool(pack.sample)
    if load_sample and last_first < 0:
        counts["sample"] = _load_sample(pack, installed, actor, progress)
    if last_first < 0 and pack.manifest.get("settings"):
        counts["settings"] = settings_files.apply(pack, upgrade=pack_plan.mode == "upgrade")
    for i, step in enumerate(writing):
        if step.action == CONFLICT and step.resolution is None:
            continue  # only a dry run gets here: the install refuses unresolved conflicts
        item = pack.definitions[step.ref]
        if step.writes:
            definition = publish_item(pack, item, step, actor)
            counts["published"] += 1
        else:
            definition = service.current(*step.ref) or service.draft(*step.ref)
            counts["kept"] += 1
        InstalledDefinition.objects.update_or_create(
            kind=step.kind,
            key=step.key,
            defaults={
                "pack": installed,
                "version": definition.version if definition else 1,
                "body": item.body,
            },
        )
        if load_sample and i == last_first:
            counts["sample"] = _load_sample(pack, installed, actor, progress)
        if i == last_first and pack.manifest.get("settings"):  # objects and sample data in
            counts["settings"] = settings_files.apply(pack, upgrade=pack_plan.mode == "upgrade")
    for step in pack_plan.steps:
        if not step.removal or (step.action == CONFLICT and step.resolution is None):
            continue
        if step.archives and service.current(*step.ref) is not None:
            service.archive(*step.ref)
            counts["archived"] += 1
        InstalledDefinition.objects.filter(kind=step.kind, key=step.key).delete()
    PackLog.objects.create(
        pack_key=pack.key,
        action=pack_plan.mode,
        from_version=pack_plan.installed_version or "",
        to_version=pack.version_text,
        summary={
            **counts,
            "steps": {f"{s.kind}:{s.key}": s.resolution or s.action for s in pack_plan.steps},
        },
        actor=actor,
    )
    return counts


def _load_sample(pack: Pack, installed: InstalledPack, actor, progress) -> dict[str, int]:
    return SampleLoader(pack, installed, actor=actor, progress=progress).load()


def publish_item(pack: Pack, item: PackDefinition, step: Step, actor) -> Definition:
    """Save the pack's body as a draft marked as the pack's, and publish it (with migration)."""
    try:
        service.save_draft(
            item.kind,
            item.key,
            item.body,
            author=actor,
            comment=f"from pack {pack.key} {pack.version_text}",
            source=Source.PACK,
            pack=pack.key,
            pack_version=pack.version_text,
        )
    except ValidationFailed as exc:
        raise PackRefused(from_errors(exc.errors, item.file, pack=pack.key)) from None
    try:
        return service.publish(item.kind, item.key, author=actor, migration=step.migration)
    except ValidationFailed as exc:
        raise PackRefused(_publish_errors(pack, item, step, exc)) from None
    except PublishRefused as exc:
        raise PackRefused([_refusal(pack, item, step, exc)]) from None


def _publish_errors(pack: Pack, item: PackDefinition, step: Step, exc: ValidationFailed):
    problems = []
    for error in exc.errors:
        if error.path.startswith("$.migration") and step.migration_index is not None:
            path = f"$.migrations[{step.migration_index}]" + error.path[1:]
            problems.append(
                Problem("manifest.json", path, error.code, error.message, pack=pack.key)
            )
        else:
            problems += from_errors([error], item.file, pack=pack.key)
    return problems


def _refusal(pack: Pack, item: PackDefinition, step: Step, exc: PublishRefused) -> Problem:
    report = exc.report
    details = []
    for field, entry in (report.get("fields") or {}).items():
        details.append(f"{field}: {entry.get('count')} record(s), {'; '.join(entry['reasons'])}")
    hints = list(report.get("suggestions") or [])
    if step.migration is None:
        hints.append(
            "the pack can carry a data migration for it in manifest.json $.migrations "
            f'({{"kind": "{item.kind}", "key": "{item.key}", "from": "<{pack.version_text}", '
            '"migration": {...}})'
        )
    message = f"{exc}" + (f" ({'; '.join(details)})" if details else "")
    if hints:
        message += "; " + "; ".join(hints)
    return Problem(item.file, "$", "publish_refused", message, pack=pack.key)
