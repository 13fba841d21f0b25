"""A pack read from disk and checked, file by file, before anything is written.

Layout (a folder or the same tree in a ``.zip``)::

    manifest.json                  key, name, version, tessera, depends, plugins, definitions…
    definitions/<kind>/<key>.json  one definition body per file, listed in the manifest
    sample/…                       rows of sample records (JSON array or JSON lines)
    settings/…                     per-object settings (RFM, lifecycle) the manifest lists
    docs/…                         the pack's documentation
    README.md, LICENSE, CHANGELOG  optional

Every file must be accounted for: a definition file the manifest does not list, or any
other stray file, is refused (a pack is what its manifest says, nothing more). Definition
bodies are checked here as far as they can be without the database (size, depth,
references, the kind's meta-schema); the kinds' own checks run in the installing
transaction, in dependency order, through the definitions service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tessera.definitions.errors import FieldError
from tessera.definitions.meta import meta_errors
from tessera.definitions.safety import reference_problems

from . import jsonread
from .manifest import manifest_errors, parse_range
from .problems import PackRefused, Problem, from_errors
from .sample import SampleEntry, check_file_rows
from .settings_files import read_problems as read_settings
from .source import MANIFEST, PackFiles, open_pack

FREE_FILES = ("README", "LICENSE", "CHANGELOG", "NOTICE")


def definition_file(kind: str, key: str) -> str:
    return f"definitions/{kind}/{key}.json"


@dataclass
class PackDefinition:
    """One definition a pack brings."""

    kind: str
    key: str
    body: dict[str, Any]
    file: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.key}"


@dataclass
class Pack:
    """A checked pack: its manifest, its definitions and its sample data, ready to plan."""

    files: PackFiles
    manifest: dict[str, Any]
    definitions: dict[tuple[str, str], PackDefinition]
    sample: list[SampleEntry] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.manifest["key"]

    @property
    def version(self) -> Version:
        return Version(self.manifest["version"])

    @property
    def version_text(self) -> str:
        return self.manifest["version"]

    @property
    def name(self) -> dict[str, str]:
        return self.manifest["name"]

    @property
    def depends(self) -> dict[str, SpecifierSet]:
        return {k: parse_range(v) for k, v in (self.manifest.get("depends") or {}).items()}

    @property
    def plugins(self) -> list[dict[str, str]]:
        return list(self.manifest.get("plugins") or [])

    @property
    def location(self) -> str:
        return self.files.location

    def migration_for(
        self, kind: str, key: str, installed: Version
    ) -> tuple[int, dict[str, Any]] | None:
        """(index in ``migrations``, steps) for upgrading (kind, key) from ``installed``."""
        for i, step in enumerate(self.manifest.get("migrations") or []):
            if (step["kind"], step["key"]) == (kind, key) and parse_range(step["from"]).contains(
                installed, prereleases=True
            ):
                return i, step["migration"]
        return None

    def __str__(self) -> str:
        return f"{self.key} {self.version_text}"


def read_manifest(files: PackFiles) -> dict[str, Any]:
    """The manifest alone, checked: enough to resolve dependencies without reading the rest."""
    if MANIFEST not in files:
        raise PackRefused([Problem(MANIFEST, "$", "missing", "the pack has no manifest.json")])
    limits = settings.TESSERA_LIMITS
    document, errors = jsonread.parse(
        files.read_limited(MANIFEST, limits["schema_bytes"]),
        max_bytes=limits["schema_bytes"],
        max_depth=limits["schema_depth"],
        what="manifest",
    )
    errors = errors or manifest_errors(document)
    if errors:
        key = document.get("key", "") if isinstance(document, dict) else ""
        raise PackRefused(from_errors(errors, MANIFEST, pack=key if isinstance(key, str) else ""))
    return document


def read_pack(location: str | Path | PackFiles) -> Pack:
    """Open and check a pack; PackRefused lists every problem in every file."""
    files = location if isinstance(location, PackFiles) else open_pack(location)
    manifest = read_manifest(files)
    key = manifest["key"]
    problems: list[Problem] = []
    definitions: dict[tuple[str, str], PackDefinition] = {}
    expected: set[str] = {MANIFEST}
    for kind, keys in manifest["definitions"].items():
        for def_key in keys:
            name = definition_file(kind, def_key)
            expected.add(name)
            if name not in files:
                problems.append(
                    Problem(
                        MANIFEST,
                        f"$.definitions.{kind}",
                        "missing_file",
                        f"{kind} {def_key!r} is listed but {name} is not in the pack",
                        pack=key,
                    )
                )
                continue
            body, errors = _read_body(files, name, kind)
            problems += from_errors(errors, name, pack=key)
            if body is not None:
                definitions[(kind, def_key)] = PackDefinition(kind, def_key, body, name)
    sample = []
    for i, spec in enumerate(manifest.get("sample_data") or []):
        entry = SampleEntry.from_manifest(spec, i)
        if entry.file:
            expected.add(entry.file)
            if entry.file not in files:
                problems.append(
                    Problem(
                        MANIFEST,
                        f"$.sample_data[{i}].file",
                        "missing_file",
                        f"{entry.file} is not in the pack",
                        pack=key,
                    )
                )
                continue
            count, errors = check_file_rows(files, entry.file)
            problems += [
                Problem(p.file, p.path, p.code, p.message, pack=key, line=p.line) for p in errors
            ]
            entry.rows = count
        sample.append(entry)
    setting_files, setting_problems = read_settings(files, manifest, key)
    expected |= setting_files
    problems += setting_problems
    for i, doc in enumerate(manifest.get("docs") or []):
        expected.add(doc)
        if doc not in files:
            problems.append(
                Problem(
                    MANIFEST, f"$.docs[{i}]", "missing_file", f"{doc} is not in the pack", pack=key
                )
            )
    problems += _stray_files(files, expected, key)
    problems += _doc_problems(files, key)
    if problems:
        raise PackRefused(problems)
    return Pack(files, manifest, definitions, sample)


def _read_body(files: PackFiles, name: str, kind: str):
    limits = settings.TESSERA_LIMITS
    body, errors = jsonread.parse(
        files.read_limited(name, limits["schema_bytes"]),
        max_bytes=limits["schema_bytes"],
        max_depth=limits["schema_depth"],
        what="definition",
    )
    if errors:
        return None, errors
    if not isinstance(body, dict):
        return None, [FieldError("$", "type", "a definition body is a JSON object")]
    errors = reference_problems(body) or meta_errors(kind, body)
    return (None, errors) if errors else (body, [])


def _stray_files(files: PackFiles, expected: set[str], key: str) -> list[Problem]:
    problems = []
    for name in files.names():
        if name in expected or name.startswith("docs/"):
            continue
        if "/" not in name and name.split(".")[0].upper() in FREE_FILES:
            continue
        if name.startswith("definitions/"):
            message = "this definition file is not listed in manifest.json $.definitions"
            problems.append(Problem(name, "$", "unlisted", message, pack=key))
        else:
            message = "not part of a pack (manifest, definitions/, sample data, docs/)"
            problems.append(Problem(name, "$", "unknown_file", message, pack=key))
    return problems


def _doc_problems(files: PackFiles, key: str) -> list[Problem]:
    limit = settings.TESSERA_PACKS["doc_bytes"]
    problems = []
    for name in files.names():
        if not (name.startswith("docs/") or name.split(".")[0].upper() in FREE_FILES):
            continue
        if files.size(name) > limit:
            problems.append(
                Problem(name, "$", "too_large", f"a doc file is at most {limit} bytes", pack=key)
            )
    return problems
