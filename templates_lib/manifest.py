"""The manifest of a pack: its JSON Schema, and the checks a schema cannot make.

Versions are semantic (``1.4.0``, ``2.0.0-rc.1``) and compared with ``packaging``; ranges
(the Tessera versions a pack runs on, the versions of the packs it depends on, the
installed versions a migration applies to) use PEP 440 specifiers: ``>=1.2,<2``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from tessera.definitions.errors import FieldError, json_path

SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")


@functools.cache
def manifest_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(manifest_schema())


def tessera_version() -> Version:
    """The version of the running Tessera, as its distribution says."""
    return Version(importlib.metadata.version("tessera"))


def parse_version(text: str) -> Version:
    return Version(text)


def parse_range(text: str) -> SpecifierSet:
    return SpecifierSet(text)


def in_range(version: Version, spec: SpecifierSet) -> bool:
    """Whether ``version`` satisfies ``spec``; pre-releases count, as semver ranges allow."""
    return spec.contains(version, prereleases=True)


def schema_errors(manifest: Any) -> list[FieldError]:
    found = []
    for error in _validator().iter_errors(manifest):
        leaf = error
        if error.validator == "oneOf" and error.context:
            leaf = max(error.context, key=lambda e: len(e.absolute_path))
        path = list(leaf.absolute_path)
        if "propertyNames" in leaf.absolute_schema_path:
            path = [*path, str(leaf.instance)]
        found.append(FieldError(json_path(path), str(leaf.validator), leaf.message))
    unique = {(e.path, e.code, e.message): e for e in found}
    return sorted(unique.values(), key=lambda e: (e.path, e.code))


def semantic_errors(manifest: dict[str, Any]) -> list[FieldError]:
    """What the schema cannot say: versions, ranges and requirements that must parse."""
    errors: list[FieldError] = []

    def check_range(value: Any, path: list[str | int]) -> None:
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            errors.append(
                FieldError(
                    json_path(path),
                    "invalid_range",
                    f"{value!r} is not a version range such as '>=1.2,<2'",
                )
            )

    try:
        Version(manifest["version"])
    except InvalidVersion:
        errors.append(FieldError("$.version", "invalid_version", "not a semantic version"))
    check_range(manifest["tessera"], ["tessera"])
    for dep, spec in (manifest.get("depends") or {}).items():
        check_range(spec, ["depends", dep])
        if dep == manifest["key"]:
            errors.append(
                FieldError(json_path(["depends", dep]), "self_dependency", "a pack needs itself")
            )
    for i, plugin in enumerate(manifest.get("plugins") or []):
        try:
            Requirement(plugin["pip"])
        except InvalidRequirement as exc:
            errors.append(
                FieldError(
                    json_path(["plugins", i, "pip"]),
                    "invalid_requirement",
                    f"not a pip requirement: {exc}",
                )
            )
    listed = {(kind, key) for kind, keys in manifest["definitions"].items() for key in keys}
    for i, step in enumerate(manifest.get("migrations") or []):
        check_range(step["from"], ["migrations", i, "from"])
        if (step["kind"], step["key"]) not in listed:
            errors.append(
                FieldError(
                    json_path(["migrations", i, "key"]),
                    "unknown_definition",
                    f"{step['kind']} {step['key']!r} is not among the pack's definitions",
                )
            )
    return errors


def manifest_errors(manifest: Any) -> list[FieldError]:
    errors = schema_errors(manifest)
    return errors or semantic_errors(manifest)
