"""The meta-schema of every kind, and checking a body against it with JSON paths."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from .errors import FieldError, json_path

META_DIR = Path(__file__).parent / "meta_schemas"
SHARED = ("i18n-text", "condition")


@functools.cache
def _registry() -> Registry:
    """Our own shared meta-schemas by URN; no other reference can resolve."""
    resources = []
    for name in SHARED:
        contents = json.loads((META_DIR / f"{name}.json").read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


@functools.cache
def meta_schema(kind: str) -> dict[str, Any]:
    path = META_DIR / f"{kind}.json"
    if not path.exists():
        raise LookupError(f"no meta-schema for kind {kind!r}")
    return json.loads(path.read_text())


@functools.cache
def meta_validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(meta_schema(kind), registry=_registry())


def _best_messages(error) -> list[Any]:
    """A oneOf failure says little; descend to the branch that came closest."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        best = max(error.context, key=lambda e: len(e.absolute_path))
        deeper = [e for e in error.context if len(e.absolute_path) == len(best.absolute_path)]
        if len(best.absolute_path) > len(error.absolute_path):
            return [e for d in deeper for e in _best_messages(d)]
    return [error]


def meta_errors(kind: str, body: Any) -> list[FieldError]:
    """Every place where ``body`` breaks its kind's meta-schema, path first."""
    found: list[FieldError] = []
    for error in meta_validator(kind).iter_errors(body):
        for leaf in _best_messages(error):
            path, code = list(leaf.absolute_path), str(leaf.validator)
            if "propertyNames" in leaf.absolute_schema_path:
                # the instance is the offending key: point at it, not at its parent
                path, code = [*path, str(leaf.instance)], "property_name"
            found.append(FieldError(json_path(path), code, leaf.message))
    unique = {(e.path, e.code, e.message): e for e in found}
    return sorted(unique.values(), key=lambda e: (e.path, e.code))
