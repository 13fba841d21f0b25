"""Where packs are found by key: the built-in ones, configured folders, and folders given.

A folder in the library is searched one level deep: each sub-folder holding a
``manifest.json`` and each ``.zip`` file is a candidate (the folder itself too, when it is
a pack). Only manifests are read to choose among candidates; the chosen pack is then read
and checked in full.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from .manifest import in_range
from .pack import Pack, read_manifest, read_pack
from .problems import PackRefused
from .source import MANIFEST, open_pack

BUILTIN_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Candidate:
    """A pack found in the library, known by its manifest only."""

    key: str
    version: Version
    location: Path
    manifest: dict[str, Any]

    def read(self) -> Pack:
        return read_pack(self.location)


class Library:
    """The folders searched for packs, in order."""

    def __init__(self, extra: Iterable[str | Path] = ()):
        configured = [Path(p) for p in settings.TESSERA_PACKS.get("dirs", [])]
        self.dirs = [*(Path(p) for p in extra), *configured, BUILTIN_DIR]
        self._scanned: list[Candidate] | None = None

    def candidates(self, key: str | None = None) -> list[Candidate]:
        if self._scanned is None:
            self._scanned = list(self._scan())
        found = [c for c in self._scanned if key is None or c.key == key]
        return sorted(found, key=lambda c: c.version, reverse=True)

    def best(self, key: str, ranges: Iterable[SpecifierSet]) -> Candidate | None:
        """The newest version of ``key`` that satisfies every range."""
        ranges = list(ranges)
        for candidate in self.candidates(key):
            if all(in_range(candidate.version, spec) for spec in ranges):
                return candidate
        return None

    def _scan(self) -> Iterable[Candidate]:
        seen: set[Path] = set()
        for directory in self.dirs:
            if not directory.is_dir():
                continue
            places = [directory, *sorted(directory.iterdir())]
            for place in places:
                if place in seen or place.is_symlink():
                    continue
                is_pack = (place.is_dir() and (place / MANIFEST).is_file()) or (
                    place.is_file() and place.suffix == ".zip"
                )
                if not is_pack:
                    continue
                seen.add(place)
                try:
                    files = open_pack(place)
                except PackRefused:
                    continue  # a broken pack is reported when someone asks for it by path
                try:
                    manifest = read_manifest(files)
                except PackRefused:
                    continue
                finally:
                    files.close()
                yield Candidate(manifest["key"], Version(manifest["version"]), place, manifest)
