"""The files of a pack, from a folder or a ``.zip``, read without trusting either.

A zip entry may not leave the pack (``../``, an absolute path, a drive, a backslash), be a
link, be encrypted, or appear twice; the declared sizes are bounded (total, per entry and
by compression ratio, against zip bombs) and ``zipfile`` never reads past a declared size.
A folder may not hold links either, since they could point anywhere on the machine.
When every entry sits under one top folder (how most tools zip a folder), it is the root.
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from django.conf import settings

from .problems import PackRefused, Problem

MANIFEST = "manifest.json"


def limits() -> dict[str, int]:
    return settings.TESSERA_PACKS


class PackFiles:
    """Read access to the files of one pack, by their path inside it (``a/b.json``)."""

    location: str

    def names(self) -> list[str]:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def open(self, name: str) -> IO[bytes]:
        raise NotImplementedError

    def read(self, name: str) -> bytes:
        with self.open(name) as stream:
            return stream.read()

    def read_limited(self, name: str, limit: int) -> bytes:
        """At most ``limit + 1`` bytes: enough for the parser to say the file is too large."""
        with self.open(name) as stream:
            return stream.read(limit + 1)

    def lines(self, name: str, max_line: int) -> Iterator[tuple[int, bytes | None]]:
        """(line number, bytes) per line; bytes is None for a line longer than ``max_line``."""
        with self.open(name) as stream:
            number = 0
            while True:
                line = stream.readline(max_line + 1)
                if not line:
                    return
                number += 1
                if len(line) > max_line and not line.endswith(b"\n"):
                    while line and not line.endswith(b"\n"):  # skip the rest of it
                        line = stream.readline(1 << 20)
                    yield number, None
                    continue
                yield number, line

    def __contains__(self, name: object) -> bool:
        return name in set(self.names())

    def close(self) -> None:
        """Release what reading holds open (a zip file); a folder holds nothing."""


def safe_name(name: str) -> str | None:
    """Why an entry name cannot be a file of the pack, or None when it can."""
    if not name or "\x00" in name:
        return "an empty or NUL-holding name"
    if "\\" in name:
        return "a backslash in a name (a Windows path)"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    parts = PurePosixPath(name).parts
    if any(part in ("..", ".") for part in parts) or any(p == "" for p in name.split("/")[:-1]):
        return "a path that leaves the pack folder"
    return None


class FolderFiles(PackFiles):
    """A pack in a folder on disk."""

    def __init__(self, root: Path, files: dict[str, Path]):
        self.root, self._files, self.location = root, files, str(root)

    @classmethod
    def read_folder(cls, root: Path) -> FolderFiles:
        problems, files, total = [], {}, 0
        bounds = limits()
        for directory, dirnames, filenames in os.walk(root, followlinks=False):
            for name in sorted(dirnames + filenames):
                full = Path(directory) / name
                rel = full.relative_to(root).as_posix()
                if full.is_symlink():
                    problems.append(
                        Problem(rel, "$", "symlink", "a pack may not hold links (symlinks)")
                    )
                    if name in dirnames:
                        dirnames.remove(name)
                    continue
                if name in filenames:
                    files[rel] = full
                    total += full.stat().st_size
        if len(files) > bounds["max_files"]:
            problems.append(
                Problem("", "$", "too_many_files", f"more than {bounds['max_files']} files")
            )
        if total > bounds["max_bytes"]:
            problems.append(
                Problem(
                    "", "$", "too_large", f"the pack is larger than {bounds['max_bytes']} bytes"
                )
            )
        if problems:
            raise PackRefused(problems)
        return cls(root, files)

    def names(self) -> list[str]:
        return sorted(self._files)

    def size(self, name: str) -> int:
        return self._files[name].stat().st_size

    def open(self, name: str) -> IO[bytes]:
        return self._files[name].open("rb")


class ZipFiles(PackFiles):
    """A pack in a ``.zip`` file; entries are checked once, when it is opened."""

    def __init__(self, path: Path, archive: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo]):
        self.path, self._zip, self._entries, self.location = path, archive, entries, str(path)

    @classmethod
    def read_zip(cls, path: Path) -> ZipFiles:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            problem = Problem("", "$", "bad_zip", f"not a readable zip file: {exc}")
            raise PackRefused([problem]) from None
        try:
            return cls(path, archive, _checked_entries(archive))
        except PackRefused:
            archive.close()
            raise

    def names(self) -> list[str]:
        return sorted(self._entries)

    def size(self, name: str) -> int:
        return self._entries[name].file_size

    def open(self, name: str) -> IO[bytes]:
        try:
            return _Entry(self._zip.open(self._entries[name]), name)  # type: ignore[return-value]
        except _BROKEN as exc:
            raise _unreadable(name, exc) from None

    def close(self) -> None:
        self._zip.close()


# What reading a damaged or crafted entry raises: a lying size or CRC, broken deflate data,
# an unknown compression method.
_BROKEN = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError)


def _unreadable(name: str, exc: BaseException) -> PackRefused:
    return PackRefused([Problem(name, "$", "bad_zip", f"the zip entry cannot be read: {exc}")])


class _Entry:
    """A zip entry's stream whose read errors become a refusal naming the entry."""

    def __init__(self, stream: IO[bytes], name: str):
        self._stream, self._name = stream, name

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except _BROKEN as exc:
            raise _unreadable(self._name, exc) from None

    def readline(self, size: int = -1) -> bytes:
        try:
            return self._stream.readline(size)
        except _BROKEN as exc:
            raise _unreadable(self._name, exc) from None

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> _Entry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _checked_entries(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    bounds = limits()
    problems: list[Problem] = []
    entries: dict[str, zipfile.ZipInfo] = {}
    infos = archive.infolist()
    if len(infos) > bounds["max_files"]:
        raise PackRefused(
            [Problem("", "$", "too_many_files", f"more than {bounds['max_files']} entries")]
        )
    total = 0
    for info in infos:
        name = info.filename
        why = safe_name(name)
        if why:
            problems.append(Problem(name, "$", "unsafe_path", f"refused: {why}"))
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            problems.append(Problem(name, "$", "symlink", "a pack may not hold links (symlinks)"))
            continue
        if info.flag_bits & 0x1:
            problems.append(Problem(name, "$", "encrypted", "encrypted entries are not read"))
            continue
        if info.is_dir():
            continue
        if name in entries:
            problems.append(Problem(name, "$", "duplicate", "the zip holds this name twice"))
            continue
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1 << 20 and ratio > bounds["max_ratio"]:
            problems.append(
                Problem(
                    name,
                    "$",
                    "zip_bomb",
                    f"compressed {ratio:.0f} to 1 (more than {bounds['max_ratio']}): refused",
                )
            )
        entries[name] = info
    if total > bounds["max_bytes"]:
        problems.append(
            Problem(
                "", "$", "too_large", f"the pack unpacks to more than {bounds['max_bytes']} bytes"
            )
        )
    if problems:
        raise PackRefused(problems)
    return _rooted(entries)


def _rooted(entries: dict[str, zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """Strip a single top folder that holds the manifest (``shop-core/manifest.json``)."""
    if MANIFEST in entries:
        return entries
    tops = {name.split("/", 1)[0] for name in entries}
    if len(tops) == 1 and all("/" in name for name in entries):
        top = tops.pop() + "/"
        if top + MANIFEST in entries:
            return {name[len(top) :]: info for name, info in entries.items()}
    return entries


def open_pack(location: str | Path) -> PackFiles:
    """The files of the pack at ``location``: a folder or a ``.zip`` file."""
    path = Path(location)
    if path.is_symlink():
        path = path.resolve()
    if path.is_dir():
        return FolderFiles.read_folder(path)
    if path.is_file():
        return ZipFiles.read_zip(path)
    raise PackRefused([Problem("", "$", "not_found", f"no pack folder or zip at {location}")])
