"""String formats, shared by both validators so they accept exactly the same values.

fastjsonschema and jsonschema each ship their own idea of ``email`` or ``date``; using
either would let the fast path and the precise path disagree. Field types therefore emit
only the format names below, and both validators receive these same functions. Author
patterns also run here, on RE2, which cannot backtrack catastrophically.

fastjsonschema pastes every format *name* into the Python source it generates and compiles
(``custom_formats["<name>"](value)``), so a name must never carry author text: a pattern
with a quote in it would be code. An author pattern therefore gets a name made of its
digest (``pattern_schema``) and travels beside it under ``x-pattern``, a keyword both
engines ignore; ``formats_for`` refuses any format name that is not a plain token.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Callable

import re2

_EMAIL = re.compile(
    r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
# At least five digits, counted by the lookahead: the classes are disjoint, so it is linear.
_PHONE = re.compile(r"\+?(?=(?:[ ()\-]*[0-9]){5})[0-9][0-9 ()\-]{3,24}")
_URL = re.compile(r"https?://[^\s/?#]+[^\s]*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")

PATTERN_PREFIX = "tessera-pattern-"
PATTERN_KEYWORD = "x-pattern"
_SAFE_FORMAT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,80}")

# Text PostgreSQL cannot hold in jsonb (NUL, unpaired surrogates) is refused by every free
# text field, as a standard ``pattern`` both engines run with Python's ``re``. The pattern
# is anchored and a single character class, so it is linear.
STORABLE_TEXT = "^[^\\x00\\ud800-\\udfff]*$"


def _strings_only(check: Callable[[str], bool]) -> Callable[[object], bool]:
    @functools.wraps(check)
    def wrapper(value: object) -> bool:
        return check(value) if isinstance(value, str) else True

    wrapper.on_strings = check  # type: ignore[attr-defined]  # for callers that check str
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
        parsed = dt.datetime.fromisoformat(value)  # reads a trailing "Z" since Python 3.11
        if value[:4] in ("0001", "9999"):
            # Stored datetimes are normalised to UTC; at the ends of the calendar an offset
            # can carry the instant out of range (0001-01-01T00:00:00+01:00).
            parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return False
    return True


@_strings_only
def is_email(value: str) -> bool:
    return bool(_EMAIL.fullmatch(value))


@_strings_only
def is_phone(value: str) -> bool:
    return _PHONE.fullmatch(value) is not None


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


def _every_line(pattern: re.Pattern[str]) -> Callable[[list[str]], bool]:
    """Whether every text fullmatches ``pattern``, asked once of the texts joined by lines.

    Only for patterns that cannot match a line break: the joined text then matches
    ``p(\\np)*`` exactly when each text matches ``p``, since the only places to split it
    are the breaks between the texts (a text holding a break is answered one by one).
    Each text's match must reach its line's end and is then final (an atomic group): a
    pattern that matches a text in several ways (the URL's host and path) would otherwise
    try them all again for every text before a failing one.
    """
    one = f"(?>(?:{pattern.pattern})(?=\n|\\Z))"
    lines = re.compile(f"{one}(?:\n{one})*")

    def every(values: list[str]) -> bool:
        joined = "\n".join(values)
        if joined.count("\n") != len(values) - 1:
            return all(pattern.fullmatch(v) is not None for v in values)
        return lines.fullmatch(joined) is not None

    return every


def _every_date(values: list[str]) -> bool:
    if not _EVERY_DATE_SHAPE(values):
        return False
    try:
        list(map(dt.date.fromisoformat, values))
    except ValueError:
        return False
    return True


_EVERY_DATE_SHAPE = _every_line(_DATE)

# The same answers as FORMATS, for a list of texts at once (``all(map(check, values))``),
# for ``records.column_validation``; tests/records/test_validator_agreement.py holds them.
COLUMN_FORMATS: dict[str, Callable[[list[str]], bool]] = {
    "tessera-date": _every_date,
    "tessera-email": _every_line(_EMAIL),
    "tessera-phone": _every_line(_PHONE),
    "tessera-url": _every_line(_URL),
}


def pattern_schema(pattern: str) -> dict[str, str]:
    """The schema keywords that run an author's pattern on RE2 under a code-safe name."""
    digest = hashlib.sha256(pattern.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return {"format": PATTERN_PREFIX + digest, PATTERN_KEYWORD: pattern}


@functools.lru_cache(maxsize=4096)
def pattern_format(pattern: str) -> Callable[[object], bool]:
    """A format function that runs an author's pattern on RE2 (``re.search`` semantics)."""
    search = _found_by(re2.compile(pattern))

    @_strings_only
    def matches(value: str) -> bool:
        try:
            return search(value)
        except UnicodeEncodeError:  # an unpaired surrogate: RE2 reads UTF-8 only
            return False

    return matches


def _found_by(compiled: re2._Regexp) -> Callable[[str], bool]:
    """``compiled.search(text) is not None``, without building a match object.

    google-re2's ``search`` maps every span back to str offsets and builds a Match, in
    Python: about 17 µs for a six-digit postcode, more than the rest of a record's
    validation. A yes/no needs only the engine's own ``Match``, a few µs. Should a later
    google-re2 move that inner API, this falls back to ``search``; a test holds the two
    answers together.
    """
    regexp = getattr(compiled, "_regexp", None)
    anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    if anchor is None or not callable(getattr(regexp, "Match", None)):
        return lambda text: compiled.search(text) is not None
    no_match = (-1, -1)

    def found(text: str) -> bool:
        encoded = text.encode()
        return regexp.Match(anchor, encoded, 0, len(encoded))[0] != no_match

    return found


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
            if isinstance(fmt, str):
                if not _SAFE_FORMAT_NAME.fullmatch(fmt):
                    raise ValueError(f"format name {fmt!r} is not a plain token")
                pattern = node.get(PATTERN_KEYWORD)
                if fmt.startswith(PATTERN_PREFIX) and isinstance(pattern, str):
                    if pattern_schema(pattern)["format"] != fmt:
                        raise ValueError(f"format {fmt!r} does not name its pattern")
                    found[fmt] = pattern_format(pattern)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return found
