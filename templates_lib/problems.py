"""Problems with a pack, each naming the pack, the file and the JSON path where it is."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from tessera.definitions.errors import FieldError


@dataclass(frozen=True)
class Problem:
    """One reason a pack is refused: ``file`` is a path inside the pack (or empty)."""

    file: str
    path: str
    code: str
    message: str
    pack: str = ""
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = "/".join(part for part in (self.pack, self.file) if part) or "pack"
        if self.line is not None:
            where += f", line {self.line}"
        return f"{where}: {self.path}: {self.message} [{self.code}]"


def from_errors(
    errors: Iterable[FieldError], file: str, *, pack: str = "", prefix: str = "", line=None
) -> list[Problem]:
    """Field errors of a document found in ``file`` (under ``prefix``, e.g. ``$.data``)."""
    out = []
    for error in errors:
        path = prefix + error.path[1:] if prefix else error.path
        out.append(Problem(file, path, error.code, error.message, pack=pack, line=line))
    return out


class PackRefused(Exception):
    """The pack (or the operation on it) was refused; nothing was written."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        shown = "; ".join(str(p) for p in self.problems[:5])
        more = len(self.problems) - 5
        super().__init__(shown + (f"; and {more} more" if more > 0 else ""))

    def as_list(self) -> list[dict[str, Any]]:
        return [p.as_dict() for p in self.problems]
