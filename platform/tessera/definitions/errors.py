"""Errors that name where they are: a JSON path, a code a program can switch on, a message."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem in a document, at a JSON path such as ``$.properties.email.maxLength``."""

    path: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.code}]"


class ValidationFailed(Exception):
    """A document was refused; ``errors`` says every place and why. Nothing was written."""

    def __init__(self, errors: Iterable[FieldError]):
        self.errors: list[FieldError] = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors[:10]))

    def as_list(self) -> list[dict[str, str]]:
        return [e.as_dict() for e in self.errors]


def json_path(parts: Sequence[str | int]) -> str:
    """``["properties", "a b", 0]`` → ``$.properties['a b'][0]``."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += "[" + repr(part) + "]"
    return out
