"""Object settings a pack brings besides definitions: RFM scoring and lifecycle stages.

These live per object in the segments layer (``ScoringSettings``), not as definitions, so a
pack names them in its manifest, one JSON file each::

    "settings": [{"type": "rfm", "object": "customer", "file": "settings/rfm.json"},
                 {"type": "lifecycle", "object": "customer", "file": "settings/lifecycle.json"}]

They are checked by the segments layer's own checks (errors at JSON paths inside the file)
and applied once the pack's objects and sample data are in and before its segments are
published, so segments on ``rfm_cell`` or ``lifecycle_stage`` count scored records from
the start. An upgrade adds settings the installed version did not have and keeps existing
ones (a person may have tuned them); uninstalling removes the settings the pack brought.
Types are a registry, so another settings document of the engine can join the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.plugins import Registry

from . import jsonread
from .problems import Problem, from_errors


@dataclass(frozen=True)
class SettingsType:
    """One kind of per-object settings document: how to save it, and how to run it once."""

    type: str
    label: str
    configure: Callable[[str, Any], Any]
    run: Callable[[str], Any]
    exists: Callable[[str], bool]
    remove: Callable[[str], None]


setting_types: Registry = Registry("pack settings type")


def _scoring(kind: str, label: str) -> SettingsType:
    def configure(object_key: str, body: Any) -> Any:
        from tessera.segments import lifecycle, rfm

        return (rfm if kind == "rfm" else lifecycle).configure(object_key, body)

    def run(object_key: str) -> Any:
        from tessera.segments import lifecycle, rfm

        return rfm.score(object_key) if kind == "rfm" else lifecycle.assign(object_key)

    def exists(object_key: str) -> bool:
        from tessera.segments.models import ScoringSettings

        return ScoringSettings.objects.filter(kind=kind, object_key=object_key).exists()

    def remove(object_key: str) -> None:
        from tessera.definitions.models import DefinitionsRevision
        from tessera.segments.models import ScoringSettings

        ScoringSettings.objects.filter(kind=kind, object_key=object_key).delete()
        DefinitionsRevision.bump()  # the freshness index is built from the settings

    return SettingsType(kind, label, configure, run, exists, remove)


for _item in (_scoring("rfm", "RFM scoring"), _scoring("lifecycle", "lifecycle stages")):
    setting_types.register(_item)


def label(spec: dict[str, Any]) -> str:
    return f"{spec['type']} of {spec['object']} from {spec['file']}"


def read_problems(files, manifest: dict[str, Any], key: str) -> tuple[set[str], list[Problem]]:
    """The files the manifest's settings name, and problems readable without the database."""
    names: set[str] = set()
    problems: list[Problem] = []
    for i, spec in enumerate(manifest.get("settings") or []):
        names.add(spec["file"])
        where = f"$.settings[{i}]"
        if spec["type"] not in setting_types:
            known = ", ".join(setting_types.keys())
            message = f"no settings type {spec['type']!r} (known: {known})"
            problems.append(
                Problem("manifest.json", f"{where}.type", "unknown_type", message, pack=key)
            )
        if spec["file"] not in files:
            message = f"{spec['file']} is not in the pack"
            problems.append(
                Problem("manifest.json", f"{where}.file", "missing_file", message, pack=key)
            )
            continue
        _, errors = body_of(files, spec["file"])
        problems += from_errors(errors, spec["file"], pack=key)
    return names, problems


def body_of(files, name: str) -> tuple[Any, list[FieldError]]:
    from django.conf import settings

    limit = settings.TESSERA_LIMITS["schema_bytes"]
    body, errors = jsonread.parse(
        files.read_limited(name, limit),
        max_bytes=limit,
        max_depth=settings.TESSERA_LIMITS["schema_depth"],
        what="settings file",
    )
    if not errors and not isinstance(body, dict):
        errors = [FieldError("$", "type", "a settings file is a JSON object")]
    return body, errors


def apply(pack, *, upgrade: bool) -> list[str]:
    """Save (and run once) the pack's settings; returns what was done, for the log.

    A settings file the segments layer refuses raises PackRefused at its JSON paths.
    """
    from .problems import PackRefused

    done = []
    for spec in pack.manifest.get("settings") or []:
        item = setting_types.get(spec["type"])
        if upgrade and item.exists(spec["object"]):
            done.append(f"kept {label(spec)}")
            continue
        body, _ = body_of(pack.files, spec["file"])
        try:
            item.configure(spec["object"], body)
            item.run(spec["object"])
        except ValidationFailed as exc:
            raise PackRefused(from_errors(exc.errors, spec["file"], pack=pack.key)) from None
        done.append(label(spec))
    return done


def remove(manifest: dict[str, Any]) -> int:
    """Remove the settings an installed pack brought; returns how many there were."""
    count = 0
    for spec in manifest.get("settings") or []:
        if spec["type"] in setting_types:
            item = setting_types.get(spec["type"])
            if item.exists(spec["object"]):
                item.remove(spec["object"])
                count += 1
    return count
