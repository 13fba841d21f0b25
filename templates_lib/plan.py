"""The plan of an install, upgrade or uninstall: per definition, what would happen and why.

The upgrade is a three-way comparison. For each definition the pack owns there are three
bodies: the *base* (what the installed version of the pack delivered, kept in
``InstalledDefinition``), *mine* (what is live now, maybe changed by a person) and
*theirs* (what the new version delivers). Nobody changed it: the pack's change applies.
Only the person changed it: theirs is kept. Both changed it differently: a conflict, shown
with both diffs, applied only once the user says whose version wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packaging.version import Version

from tessera.definitions import diff as diffing
from tessera.definitions import service
from tessera.definitions.models import Definition, Source, Status
from tessera.records.models import Record

from .models import InstalledDefinition, InstalledPack
from .pack import Pack, PackDefinition
from .problems import Problem
from .references import Ref, dependency_order, references

ADD, CHANGE, REMOVE, UNCHANGED, KEEP, CONFLICT = (
    "add",
    "change",
    "remove",
    "unchanged",
    "keep",
    "conflict",
)
MINE, THEIRS = "mine", "theirs"
SIGNS = {ADD: "+", CHANGE: "~", REMOVE: "-", UNCHANGED: "=", KEEP: "=", CONFLICT: "!"}


@dataclass
class Step:
    """What happens to one definition."""

    kind: str
    key: str
    action: str
    reason: str = ""
    changes: list[diffing.Change] = field(default_factory=list)
    mine: list[diffing.Change] = field(default_factory=list)
    theirs: list[diffing.Change] = field(default_factory=list)
    resolution: str | None = None
    removal: bool = False
    migration: dict[str, Any] | None = None
    migration_index: int | None = None
    records: int | None = None
    file: str = ""

    @property
    def ref(self) -> Ref:
        return (self.kind, self.key)

    @property
    def writes(self) -> bool:
        """Whether the pack's body gets published."""
        if self.action in (ADD, CHANGE):
            return True
        return self.action == CONFLICT and self.resolution == THEIRS and not self.removal

    @property
    def archives(self) -> bool:
        if self.action == REMOVE:
            return True
        return self.action == CONFLICT and self.resolution == THEIRS and self.removal

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "action": self.action,
            "reason": self.reason,
            "changes": [c.as_dict() for c in self.changes],
            "mine": [c.as_dict() for c in self.mine],
            "theirs": [c.as_dict() for c in self.theirs],
            "resolution": self.resolution,
            "records": self.records,
        }


@dataclass
class PackPlan:
    """The plan for one pack: install, upgrade, uninstall, or already there (a dependency)."""

    key: str
    name: dict[str, str]
    mode: str  # install | upgrade | uninstall | installed
    version: str
    installed_version: str | None
    reason: str
    steps: list[Step] = field(default_factory=list)
    sample: list[str] = field(default_factory=list)
    pack: Pack | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "mode": self.mode,
            "version": self.version,
            "installed_version": self.installed_version,
            "reason": self.reason,
            "steps": [s.as_dict() for s in self.steps],
            "sample": self.sample,
        }


@dataclass
class Plan:
    """Everything an operation would do, or the problems that stop it."""

    packs: list[PackPlan] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def conflicts(self) -> list[Step]:
        return [
            s for p in self.packs for s in p.steps if s.action == CONFLICT and s.resolution is None
        ]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.conflicts

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "packs": [p.as_dict() for p in self.packs],
            "problems": [p.as_dict() for p in self.problems],
            "conflicts": [f"{s.kind}:{s.key}" for s in self.conflicts],
        }

    def render(self, verbose: bool = False) -> str:
        lines: list[str] = []
        for pack in self.packs:
            lines.append(_headline(pack))
            for step in pack.steps:
                if step.action in (UNCHANGED, KEEP) and not verbose and not step.reason:
                    continue
                lines.extend(_step_lines(step))
            lines.extend(
                f"  {s}" if s.startswith("settings: ") else f"  sample data: {s}"
                for s in pack.sample
            )
        if self.problems:
            lines.append(f"refused: {len(self.problems)} problem(s), nothing was written")
            lines.extend(f"  {p}" for p in self.problems)
        elif self.conflicts:
            lines.append(
                f"{len(self.conflicts)} conflict(s): choose whose version wins, per definition "
                "(--mine KIND:KEY / --theirs KIND:KEY) or for all (--all-mine / --all-theirs)"
            )
        return "\n".join(lines)


def _headline(pack: PackPlan) -> str:
    if pack.mode == "install":
        return f"install {pack.key} {pack.version} ({pack.reason})"
    if pack.mode == "upgrade":
        return f"upgrade {pack.key} {pack.installed_version} -> {pack.version} ({pack.reason})"
    if pack.mode == "uninstall":
        return f"uninstall {pack.key} {pack.version}"
    return f"keep {pack.key} {pack.version}, installed ({pack.reason})"


def _step_lines(step: Step) -> list[str]:
    head = f"  {SIGNS[step.action]} {step.kind} {step.key}"
    if step.reason:
        head += f": {step.reason}"
    if step.action == CONFLICT:
        head += f" [{step.resolution or 'conflict: unresolved'}]"
    lines = [head]
    if step.action == CONFLICT:
        lines += ["      yours:"] + [f"        {c}" for c in step.mine]
        lines += ["      the pack's:"] + [f"        {c}" for c in step.theirs]
    elif step.action == CHANGE:
        lines += [f"      {c}" for c in step.changes]
    if step.migration:
        lines.append(f"      data migration: {step.migration}")
    return lines


# --- computing steps --------------------------------------------------------------------------


def _person_draft(kind: str, key: str, pack_key: str) -> Definition | None:
    pending = service.draft(kind, key)
    if pending is None or (pending.source == Source.PACK and pending.source_pack == pack_key):
        return None
    return pending


def record_count(kind: str, key: str) -> int | None:
    return Record.objects.filter(object_key=key).count() if kind == "object" else None


def pack_steps(
    pack: Pack, installed: InstalledPack | None, resolutions: dict[str, str]
) -> tuple[list[Step], list[Problem]]:
    """The steps of installing or upgrading to ``pack``, and the problems found on the way."""
    owned = (
        {(d.kind, d.key): d for d in installed.definitions.all()} if installed is not None else {}
    )
    problems = _ownership_problems(pack, installed)
    steps: list[Step] = []
    for ref in dependency_order({r: d.body for r, d in pack.definitions.items()}):
        item = pack.definitions[ref]
        step = _step(pack, item, owned.get(ref), installed)
        steps.append(step)
    old_bodies = {ref: d.body for ref, d in owned.items() if ref not in pack.definitions}
    for ref in reversed(dependency_order(old_bodies)):
        steps.append(_removal(ref, owned[ref]))
    for step in steps:
        if step.action == CONFLICT:
            step.resolution = resolutions.get(f"{step.kind}:{step.key}") or resolutions.get("*")
    return steps, problems


def _ownership_problems(pack: Pack, installed: InstalledPack | None) -> list[Problem]:
    problems = []
    others = InstalledDefinition.objects.select_related("pack").filter(
        kind__in={k for k, _ in pack.definitions}, key__in={k for _, k in pack.definitions}
    )
    for owner in others:
        ref = (owner.kind, owner.key)
        if ref in pack.definitions and owner.pack.key != pack.key:
            problems.append(
                Problem(
                    pack.definitions[ref].file,
                    "$",
                    "owned_by_other_pack",
                    f"{owner.kind} {owner.key!r} belongs to the pack {owner.pack.key} "
                    f"{owner.pack.version}; a definition has one owner",
                    pack=pack.key,
                )
            )
    return problems


def _step(pack: Pack, item: PackDefinition, base: InstalledDefinition | None, installed) -> Step:
    kind, key, body = item.kind, item.key, item.body
    live = service.current(kind, key)
    pending = _person_draft(kind, key, pack.key)
    step = Step(kind, key, ADD, file=item.file)
    if base is None:
        if live is None and pending is None:
            step.changes = diffing.diff({}, body)
            return step
        if live is not None and pending is None and live.body == body:
            step.action, step.reason = UNCHANGED, "already here, identical: the pack takes it over"
            return step
        step.action = CONFLICT
        step.reason = "already exists here and was not installed by a pack" + (
            " (it has an unpublished draft)" if pending is not None else ""
        )
        step.mine = diffing.diff(body, (pending or live).body)
        step.theirs = diffing.diff((live or pending).body, body)
        return step
    mine = pending.body if pending is not None else (live.body if live is not None else None)
    person_changed = mine != base.body
    if installed is not None:
        found = pack.migration_for(kind, key, Version(installed.version))
        if found:
            step.migration_index, step.migration = found
    if not person_changed:
        if body == base.body:
            step.action = UNCHANGED
        else:
            step.action, step.changes = CHANGE, diffing.diff(base.body, body)
        return step
    if body == base.body:
        step.action = KEEP
        step.reason = f"changed here since {installed.version}; the pack did not change it: kept"
        step.migration = None
        return step
    if mine == body and pending is None:
        step.action, step.reason = UNCHANGED, "changed here exactly as the pack changes it"
        step.migration = None
        return step
    step.action = CONFLICT
    if mine is None:
        step.reason = f"archived here since {installed.version}, and the pack changed it"
    elif pending is not None:
        step.reason = "has an unpublished draft here, and the pack changed it"
    else:
        step.reason = f"changed here since {installed.version}, and the pack changed it too"
    step.mine = diffing.diff(base.body, mine if mine is not None else {})
    step.theirs = diffing.diff(base.body, body)
    step.changes = diffing.diff(mine if mine is not None else {}, body)
    return step


def _removal(ref: Ref, base: InstalledDefinition) -> Step:
    kind, key = ref
    live = service.current(kind, key)
    step = Step(kind, key, REMOVE, removal=True)
    step.records = record_count(kind, key)
    if live is None:
        step.reason = "no longer in the pack (already archived here)"
    elif live.body != base.body:
        step.action = CONFLICT
        step.reason = "the pack no longer has it, but it was changed here"
        step.mine = diffing.diff(base.body, live.body)
    else:
        step.reason = "no longer in the pack: archived"
    if step.records:
        step.reason += f"; its {step.records} record(s) are kept"
    return step


def published_elsewhere(refs: set[Ref], owner: str) -> dict[Ref, list[Ref]]:
    """Published definitions outside pack ``owner`` that name one of ``refs``."""
    owned_by_pack = set(
        InstalledDefinition.objects.filter(pack__key=owner).values_list("kind", "key")
    )
    found: dict[Ref, list[Ref]] = {}
    for definition in Definition.objects.filter(status=Status.PUBLISHED).only(
        "kind", "key", "body"
    ):
        ref = (definition.kind, definition.key)
        if ref in owned_by_pack:
            continue
        for target in references(definition.kind, definition.key, definition.body) & refs:
            found.setdefault(target, []).append(ref)
    return found
