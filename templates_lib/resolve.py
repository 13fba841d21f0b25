"""Dependencies: which packs an install or upgrade needs, in the order they go in.

A dependency already installed at a version in range is used as it is; installed at a
version out of range, it is a conflict the user settles (upgrade it first): the installer
never changes another pack behind the user's back. A missing one is taken from the
library, newest version that satisfies every range asked of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from .library import Library
from .manifest import in_range, tessera_version
from .models import InstalledPack
from .pack import Pack
from .problems import PackRefused, Problem


@dataclass
class Needed:
    """A pack the operation touches, why, and what is installed of it now."""

    pack: Pack
    installed: InstalledPack | None
    reason: str


@dataclass
class Resolution:
    needed: list[Needed] = field(default_factory=list)
    satisfied: list[tuple[InstalledPack, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _problem(pack: str, code: str, message: str, path: str = "$") -> Problem:
    return Problem("manifest.json", path, code, message, pack=pack)


def root_problems(pack: Pack, installed: InstalledPack | None, mode: str) -> list[Problem]:
    """Whether ``mode`` (install or upgrade) makes sense for this pack in this instance."""
    if mode == "install" and installed is not None:
        how = (
            "use upgrade"
            if pack.version > Version(installed.version)
            else "nothing to install"
            if pack.version == Version(installed.version)
            else "it is older than that: packs are not downgraded"
        )
        return [
            _problem(
                pack.key, "already_installed", f"{pack.key} {installed.version} is installed; {how}"
            )
        ]
    if mode == "upgrade":
        if installed is None:
            return [_problem(pack.key, "not_installed", f"{pack.key} is not installed; install it")]
        if pack.version <= Version(installed.version):
            return [
                _problem(
                    pack.key,
                    "not_newer",
                    f"{pack.key} {installed.version} is installed; "
                    f"{pack.version_text} is not newer",
                )
            ]
        problems = []
        for other in InstalledPack.objects.exclude(key=pack.key):
            spec = other.depends.get(pack.key)
            if spec is not None and not in_range(pack.version, SpecifierSet(spec)):
                problems.append(
                    _problem(
                        pack.key,
                        "breaks_dependant",
                        f"{other.key} {other.version} needs {pack.key} {spec}; "
                        f"{pack.version_text} is outside that range: uninstall {other.key} "
                        f"first, or upgrade when a version of {other.key} accepts it",
                    )
                )
        return problems
    return []


def tessera_problems(pack: Pack) -> list[Problem]:
    spec, running = SpecifierSet(pack.manifest["tessera"]), tessera_version()
    if in_range(running, spec):
        return []
    return [
        _problem(
            pack.key,
            "tessera_version",
            f"{pack.key} {pack.version_text} runs on Tessera {spec}; this is Tessera {running}",
            "$.tessera",
        )
    ]


def resolve(root: Pack, library: Library, mode: str) -> Resolution:
    """Every pack to write, dependencies before the packs that need them."""
    out = Resolution()
    installed = {p.key: p for p in InstalledPack.objects.all()}
    out.problems += root_problems(root, installed.get(root.key), mode)
    chosen: dict[str, Pack] = {root.key: root}
    asked: dict[str, list[tuple[SpecifierSet, str]]] = {}
    visiting: list[str] = []

    def visit(pack: Pack, reason: str) -> None:
        visiting.append(pack.key)
        out.problems.extend(tessera_problems(pack))
        for dep, spec in sorted(pack.depends.items()):
            asked.setdefault(dep, []).append((spec, pack.key))
            path = f"$.depends[{dep!r}]"
            if dep in visiting:
                chain = " → ".join([*visiting[visiting.index(dep) :], dep])
                out.problems.append(
                    _problem(pack.key, "dependency_cycle", f"packs depend on each other: {chain}")
                )
                continue
            if dep in chosen:
                if not in_range(chosen[dep].version, spec):
                    out.problems.append(_conflict(pack, dep, spec, chosen[dep].version_text, asked))
                continue
            if dep in installed:
                have = installed[dep]
                if not in_range(Version(have.version), spec):
                    out.problems.append(
                        _problem(
                            pack.key,
                            "version_conflict",
                            f"{pack.key} {pack.version_text} needs {dep} {spec}, but {dep} "
                            f"{have.version} is installed: upgrade {dep} to a version in "
                            f"that range first (manage.py pack upgrade {dep})"
                            if Version(have.version) < _floor(spec)
                            else f"{pack.key} {pack.version_text} needs {dep} {spec}, but {dep} "
                            f"{have.version} is installed and packs are not downgraded",
                            path,
                        )
                    )
                elif (have, pack.key) not in out.satisfied:
                    out.satisfied.append((have, pack.key))
                continue
            candidate = library.best(dep, [s for s, _ in asked[dep]])
            if candidate is None:
                versions = ", ".join(str(c.version) for c in library.candidates(dep)) or "none"
                out.problems.append(
                    _problem(
                        pack.key,
                        "missing_dependency",
                        f"{pack.key} needs {dep} {spec or '(any version)'}; no such pack was found "
                        f"(versions found: {versions}; searched: "
                        f"{', '.join(str(d) for d in library.dirs)})",
                        path,
                    )
                )
                continue
            try:
                dependency = candidate.read()
            except PackRefused as exc:
                out.problems.extend(exc.problems)
                continue
            chosen[dep] = dependency
            visit(dependency, f"needed by {pack.key}")
        visiting.pop()
        out.needed.append(Needed(pack, installed.get(pack.key), reason))

    visit(root, "requested")
    return out


def _floor(spec: SpecifierSet) -> Version:
    """The lowest version a range admits, roughly: to tell "upgrade it" from "too new"."""
    lows = []
    for item in spec:
        if item.operator in (">=", ">", "==", "~="):
            try:
                lows.append(Version(item.version.rstrip(".*")))
            except ValueError:
                continue
    return max(lows) if lows else Version("0")


def _conflict(pack: Pack, dep: str, spec, chosen: str, asked) -> Problem:
    who = "; ".join(f"{by} needs {s or 'any'}" for s, by in asked[dep])
    return _problem(
        pack.key,
        "version_conflict",
        f"no version of {dep} satisfies every pack: {who} (chosen {chosen})",
        f"$.depends[{dep!r}]",
    )
