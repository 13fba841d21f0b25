"""String formats, shared by both validators so they accept exactly the same values.

fastjsonschema and jsonschema each ship their own idea of ``email`` or ``date``; using
either would let the fast path and the precise path disagree. Field types therefore emit
only the format names below, and both validators receive these same functions. Author
patterns also run here, on RE2, which cannot backtrack catastrophically.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable

import re2

_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
_PHONE = re.compile(r"\+?[0-9][0-9 ()\-]{3,24}")
_URL = re.compile(r"https?://[^\s/?#]+[^\s]*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")

PATTERN_PREFIX = "tessera-pattern:"


def _strings_only(check: Callable[[str], bool]) -> Callable[[object], bool]:
    @functools.wraps(check)
    def wrapper(value: object) -> bool:
        return check(value) if isinstance(value, str) else True

    return wrapper


@_strings_only
def is_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


@_strings_only
def is_datetime(value: str) -> bool:
    if not _DATETIME.fullmatch(value):
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@_strings_only
def is_email(value: str) -> bool:
    return bool(_EMAIL.fullmatch(value))


@_strings_only
def is_phone(value: str) -> bool:
    return bool(_PHONE.fullmatch(value)) and sum(c.isdigit() for c in value) >= 5


@_strings_only
def is_url(value: str) -> bool:
    return bool(_URL.fullmatch(value))


FORMATS: dict[str, Callable[[object], bool]] = {
    "tessera-date": is_date,
    "tessera-datetime": is_datetime,
    "tessera-email": is_email,
    "tessera-phone": is_phone,
    "tessera-url": is_url,
}


@functools.lru_cache(maxsize=4096)
def pattern_format(pattern: str) -> Callable[[object], bool]:
    """A format function that runs an author's pattern on RE2 (``re.search`` semantics)."""
    compiled = re2.compile(pattern)

    @_strings_only
    def matches(value: str) -> bool:
        return compiled.search(value) is not None

    return matches


def pattern_problem(pattern: str, max_length: int) -> str | None:
    """Why a pattern is refused, or None. RE2 refuses backreferences and lookaround."""
    if len(pattern) > max_length:
        return f"pattern is longer than {max_length} characters"
    try:
        re2.compile(pattern)
    except re2.error as exc:
        return f"pattern is not supported (RE2 syntax, no backreferences or lookaround): {exc}"
    return None


def formats_for(schema: object) -> dict[str, Callable[[object], bool]]:
    """Every format function a compiled schema refers to, author patterns included."""
    found = dict(FORMATS)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            fmt = node.get("format")
            if isinstance(fmt, str) and fmt.startswith(PATTERN_PREFIX):
                found[fmt] = pattern_format(fmt[len(PATTERN_PREFIX) :])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return found
