"""Uninstalling a pack: what it installed goes, nothing else, and never data by surprise.

Refused while another installed pack depends on it, or while a definition that is not the
pack's (a person's segment on the pack's customer object) still uses one of its
definitions. Definitions are archived in reverse dependency order (screens before the
objects they show). An object holding records is archived with its records kept, still
readable and exportable (``pack export --with-data``), unless the caller asks to delete
the data; then the records are deleted through the records service, referrers first.
"""

from __future__ import annotations

from typing import Any

from tessera.definitions import service
from tessera.definitions.errors import ValidationFailed
from tessera.records import service as records
from tessera.records.indexes import sync_indexes
from tessera.records.models import Record

from . import settings_files
from .models import InstalledDefinition, InstalledPack, InstalledRecord, PackLog
from .plan import REMOVE, PackPlan, Plan, Step, published_elsewhere, record_count
from .problems import PackRefused, Problem
from .references import dependency_order
from .sample import NoProgress


def plan_uninstall(key: str, *, delete_data: bool = False) -> Plan:
    plan = Plan()
    installed = InstalledPack.objects.filter(key=key).first()
    if installed is None:
        plan.problems.append(Problem("", "$", "not_installed", f"{key} is not installed", pack=key))
        return plan
    pack_plan = PackPlan(key, installed.name, "uninstall", installed.version, installed.version, "")
    plan.packs.append(pack_plan)
    dependants = [other for other in InstalledPack.objects.exclude(key=key) if key in other.depends]
    for other in dependants:
        plan.problems.append(
            Problem(
                "",
                "$",
                "needed_by",
                f"{other.key} {other.version} depends on {key}: uninstall {other.key} first",
                pack=key,
            )
        )
    owned = {(d.kind, d.key): d for d in installed.definitions.all()}
    for ref in reversed(dependency_order({ref: d.body for ref, d in owned.items()})):
        kind, def_key = ref
        live = service.current(kind, def_key)
        step = Step(kind, def_key, REMOVE, removal=True, records=record_count(kind, def_key))
        step.reason = "archived" if live is not None else "already archived here"
        if live is not None and live.body != owned[ref].body:
            step.reason += " (it was changed here since the install)"
        if step.records:
            step.reason += (
                f"; its {step.records} record(s) are deleted"
                if delete_data
                else f"; its {step.records} record(s) are kept"
            )
        pack_plan.steps.append(step)
    theirs = set(InstalledDefinition.objects.filter(pack__in=dependants).values_list("kind", "key"))
    for target, users in sorted(published_elsewhere(set(owned), key).items()):
        users = [u for u in users if u not in theirs]  # already said: their pack needs this one
        if not users:
            continue
        names = ", ".join(f"{k} {n}" for k, n in sorted(users))
        plan.problems.append(
            Problem(
                "",
                "$",
                "used_elsewhere",
                f"{target[0]} {target[1]} of this pack is used by {names}, which the pack did "
                "not install: archive or change them first",
                pack=key,
            )
        )
    if delete_data:
        foreign = InstalledRecord.objects.filter(pack=installed).exclude(
            object_key__in=[k for kind, k in owned if kind == "object"]
        )
        if foreign.exists():
            pack_plan.sample.append(
                f"{foreign.count()} sample record(s) in other packs' objects are deleted"
            )
    return plan


def apply_uninstall(plan: Plan, *, delete_data: bool, actor=None, progress=None) -> dict[str, Any]:
    """Carry out an uninstall plan; the caller holds the transaction."""
    progress = progress or NoProgress()
    pack_plan = plan.packs[0]
    installed = InstalledPack.objects.get(key=pack_plan.key)
    counts: dict[str, Any] = {"archived": 0, "deleted_records": 0}
    if delete_data:
        objects = [s.key for s in pack_plan.steps if s.kind == "object"]
        foreign = list(
            InstalledRecord.objects.filter(pack=installed)
            .exclude(object_key__in=objects)
            .order_by("-record_id")
            .values_list("object_key", "record_id")
        )
        counts["deleted_records"] += _delete(
            foreign, f"sample records of {installed.key}", actor, progress
        )
        for object_key in objects:  # referrers first: the steps are in reverse dependency order
            rows = list(
                Record.objects.filter(object_key=object_key)
                .order_by("-pk")
                .values_list("object_key", "pk")
            )
            counts["deleted_records"] += _delete(rows, f"records of {object_key}", actor, progress)
    for step in pack_plan.steps:
        if service.current(step.kind, step.key) is not None:
            service.archive(step.kind, step.key)
            counts["archived"] += 1
        if delete_data and step.kind == "object":
            sync_indexes(step.key, {"properties": {}})  # nothing left to index
    removed = settings_files.remove(installed.manifest)
    if removed:
        counts["settings"] = removed
    PackLog.objects.create(
        pack_key=installed.key,
        action=PackLog.Action.UNINSTALL,
        from_version=installed.version,
        summary={**counts, "delete_data": delete_data},
        actor=actor,
    )
    installed.delete()
    return counts


def _delete(rows: list[tuple[str, int]], label: str, actor, progress) -> int:
    """Delete records through the service; rows other rows point at wait for a later pass."""
    progress.start(f"delete {label}", len(rows))
    remaining, deleted = rows, 0
    while remaining:
        blocked: list[tuple[str, int, ValidationFailed]] = []
        for object_key, pk in remaining:
            version = Record.objects.filter(pk=pk).values_list("version", flat=True).first()
            if version is None:
                continue  # a person deleted it already
            try:
                records.delete(object_key, pk, version=version, actor=actor)
            except ValidationFailed as exc:
                blocked.append((object_key, pk, exc))
                continue
            deleted += 1
            progress.advance()
        if len(blocked) == len(remaining):
            raise PackRefused(
                [
                    Problem(
                        "",
                        "$",
                        "data_in_use",
                        f"{object_key} #{pk} cannot be deleted: {exc}",
                    )
                    for object_key, pk, exc in blocked[:20]
                ]
            )
        remaining = [(o, pk) for o, pk, _ in blocked]
    return deleted
