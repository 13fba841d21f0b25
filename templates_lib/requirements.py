"""A pack's plugin requirements, checked against the installed ``tessera.plugins`` entry points.

A plugin is found by its entry-point name; when it is missing (or too old for the range in
``pip``) the problem says exactly what to ``pip install``. A plugin installed after this
process started is loaded on the spot, as start-up would have loaded it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from typing import Any

from packaging.requirements import Requirement

from tessera import plugins

from .problems import Problem
from .references import types_used


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def plugin_problems(manifest: dict[str, Any]) -> list[Problem]:
    key = manifest["key"]
    problems = []
    importlib.invalidate_caches()
    for i, wanted in enumerate(manifest.get("plugins") or []):
        name, pip = wanted["entry_point"], wanted["pip"]
        path = f"$.plugins[{i}]"
        requirement = Requirement(pip)
        found = list(importlib.metadata.entry_points(group=plugins.ENTRY_POINT_GROUP, name=name))
        if not found:
            problems.append(
                Problem(
                    "manifest.json",
                    path,
                    "missing_plugin",
                    f"the plugin {name!r} is not installed: pip install '{pip}', then restart "
                    "the web server and the workers",
                    pack=key,
                )
            )
            continue
        dist = found[0].dist
        if (
            dist is not None
            and canonical(dist.name) == canonical(requirement.name)
            and requirement.specifier
            and not requirement.specifier.contains(dist.version, prereleases=True)
        ):
            problems.append(
                Problem(
                    "manifest.json",
                    path,
                    "plugin_version",
                    f"{dist.name} {dist.version} is installed but the pack needs {pip}: "
                    f"pip install --upgrade '{pip}'",
                    pack=key,
                )
            )
            continue
        if not plugins.load_plugin(name):
            problems.append(
                Problem(
                    "manifest.json",
                    path,
                    "plugin_broken",
                    f"the plugin {name!r} is installed but failed to load (see the log)",
                    pack=key,
                )
            )
    return problems


def plugins_used(bodies: list[Any]) -> list[dict[str, str]]:
    """The third-party plugins whose types the bodies use, as manifest ``plugins`` entries."""
    registries = plugins.registries
    entry_of = {canonical(dist): name for name, dist in registries.loaded_plugins.items()}
    others = [registries.actions, registries.node_types, registries.triggers, registries.channels]
    dists: set[str] = set()
    for body in bodies:
        for attribute, value in types_used(body):
            candidates = [registries.field_types] if attribute == "x-type" else others
            for registry in candidates:
                origin = registry.origin(value) if value in registry else None
                if origin and origin != "builtin":
                    dists.add(origin)
    out = []
    for dist in sorted(dists):
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
        name = entry_of.get(canonical(dist))
        if name:
            out.append({"entry_point": name, "pip": f"{dist}>={version}"})
    return out
