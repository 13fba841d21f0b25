"""From what a spreadsheet cell (or an order system's JSON) holds to a field's stored value.

One converter per field type, chosen once per column, keyed by the ``x-type`` slug in a
registry, so a plugin's field type can bring its own (``cell_converters.register``); a type
without one falls back to the field type's own ``convert``. A converter returns the value
or ``None`` (no value: the cell was empty) and raises ``ValueError`` with a message for a
person ("'2024/13/01' is not a date") when the cell cannot be read.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import json
import re
import unicodedata
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from tessera.plugins import Registry, field_types

Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class Options:
    """How cells are read, per import: the phone region, the time zone of naive times."""

    region: str = ""
    timezone: str = ""
    day_first: bool = False  # 05/03/2024 is 5 March (else 3 May); year-first is never ambiguous

    @classmethod
    def of(cls, options: dict[str, Any] | None) -> Options:
        options = options or {}
        return cls(
            region=str(options.get("region") or settings.TESSERA_EXCHANGE["default_region"]),
            timezone=str(options.get("timezone") or settings.TIME_ZONE),
            day_first=bool(options.get("day_first", False)),
        )


@dataclass
class CellConverter:
    """Makes the converter of one field from its property and the import's options."""

    type: str
    make: Callable[[dict[str, Any], Options], Converter] = field(repr=False)


cell_converters: Registry = Registry("cell converter")


def converter_for(prop: dict[str, Any], options: Options) -> Converter:
    """The function that reads one column into the field ``prop``; empty cells give None.

    Built-in converters of types whose cells repeat (dates, choices, amounts) remember
    what a text gave, so a file of a million rows parses each distinct date once. Phones,
    emails and amounts, which hardly repeat, read a whole chunk's column at once instead
    (``convert_column``).
    """
    kind = prop["x-type"]
    if kind in cell_converters:
        maker = cell_converters.get(kind)
        inner = maker.make(prop, options)
    else:
        maker, inner = None, field_types.get(kind).convert
    builtin = maker is not None and maker in BUILTIN_CONVERTERS
    if builtin and kind in TEXT_TYPES:
        return _text_cells(inner)
    if builtin and kind in REPEATING_TYPES:
        limit = REMEMBERED_DATES if kind == "date" else REMEMBERED_CELLS
        remembering = _remembering(inner, limit)
        if kind in ("decimal", "money"):
            by_text = remembering.column  # type: ignore[attr-defined]
            column = _amount_column(by_text, money=kind == "money")
            remembering.column = column  # type: ignore[attr-defined]
        return remembering

    def convert(cell: Any) -> Any:
        if cell is None:
            return None
        if isinstance(cell, str):
            cell = cell.strip()
            if not cell:
                return None
        return inner(cell)

    if builtin and kind == "phone":
        in_china = options.region.upper() == "CN"
        convert.column = _phone_column(convert, in_china=in_china)  # type: ignore[attr-defined]
    elif builtin and kind == "email":
        convert.column = _email_column(convert)  # type: ignore[attr-defined]
    return convert


def _text_cells(inner: Converter) -> Converter:
    """A text field: a text cell is itself, stripped (``_text`` returns a string as is)."""

    def convert(cell: Any) -> Any:
        if type(cell) is str:
            return cell.strip() or None
        if cell is None:
            return None
        return inner(cell)

    convert.column = _text_column(convert)  # type: ignore[attr-defined]
    return convert


def _text_column(convert: Converter) -> Callable[[list[Any]], list[Any]]:
    def column(cells: list[Any]) -> list[Any]:
        if set(map(type, cells)) != {str}:
            return list(map(convert, cells))
        values = list(map(str.strip, cells))
        if "" in values:
            return [v or None for v in values]
        return values

    return column


_BLANK = {"": None}  # map(_BLANK.get, values, values): "" becomes None, in C


def _all_text(cells: list[Any]) -> bool:
    return set(map(type, cells)) == {str}


def _lines(cells: list[str]) -> str | None:
    """The cells joined by line breaks, or None when a cell holds one (the lines would shift)."""
    joined = "\n".join(cells)
    return joined if joined.count("\n") == len(cells) - 1 else None


@dataclass(frozen=True)
class _Refused:
    message: str


_UNSEEN = object()
REMEMBERED_CELLS = 10_000  # per column; then forgotten, so memory stays flat
REMEMBERED_DATES = 40_000  # a date column: every day of 110 years, see ``_remembering``


def _remembering(inner: Converter, limit: int = REMEMBERED_CELLS) -> Converter:
    """``inner`` for text cells, remembering each text's value (or refusal) for the column.

    Only for the built-in converters, which are pure functions of the text and the
    import's options, and return values that cannot be changed (str, int, float, bool).
    Other cells (Excel numbers, dates) go to ``inner`` every time: 1 and 1.0 and True
    are one dict key.

    At most ``limit`` texts, then all forgotten. A date column keeps up to 40,000 (every day
    of 110 years; ~5.6 MB at the bound, keys included, by tracemalloc) since a file's
    birthdays span decades: bench/import.py's 18,816 distinct dates over a million rows
    took 2.0 µs a cell under the 10,000 bound (cleared again and again) and 0.2-0.26 once
    all were held.
    """
    seen: dict[str, Any] = {}
    refusals = [0]  # how many of ``seen``'s values are refusals

    def convert(cell: Any) -> Any:
        if type(cell) is not str:
            return None if cell is None else inner(cell)
        value = seen.get(cell, _UNSEEN)
        if value is _UNSEEN:
            text = cell.strip()
            try:
                value = inner(text) if text else None
            except ValueError as exc:
                value = _Refused(str(exc))
            if len(seen) >= limit:
                seen.clear()
                refusals[0] = 0
            seen[cell] = value
            if type(value) is _Refused:
                refusals[0] += 1
        if type(value) is _Refused:
            raise ValueError(value.message)
        return value

    def column(cells: list[Any]) -> list[Any]:
        # The texts seen before, looked up in C; only the new ones go through ``convert``.
        if refusals[0]:
            return list(map(convert, cells))
        values = list(map(seen.get, cells, itertools.repeat(_UNSEEN)))
        if _UNSEEN in values:
            values = [
                convert(cell) if value is _UNSEEN else value
                for value, cell in zip(values, cells, strict=True)
            ]
        return values

    convert.column = column  # type: ignore[attr-defined]
    return convert


def convert_column(convert: Converter, cells: list[Any]) -> list[Any]:
    """``[convert(cell) for cell in cells]``, faster where the converter has a way.

    Raises as ``convert`` would on the first cell it refuses (maybe not in order): the
    caller then goes cell by cell for the errors.
    """
    column = getattr(convert, "column", None)
    if column is not None:
        return column(cells)
    return list(map(convert, cells))


# --- text ----------------------------------------------------------------------------------


def _text(prop: dict[str, Any], options: Options) -> Converter:
    def convert(cell: Any) -> str:
        if isinstance(cell, str):
            return cell
        if isinstance(cell, bool):
            return "true" if cell else "false"
        if isinstance(cell, float) and cell.is_integer():
            return str(int(cell))  # Excel keeps codes like 100234 as 100234.0
        if isinstance(cell, (dict, list)):
            raise ValueError("a list or object is not text")
        if isinstance(cell, dt.datetime):
            return cell.isoformat(sep=" ")
        return str(cell)

    return convert


# --- numbers -------------------------------------------------------------------------------

_CURRENCY = re.compile(
    r"(?i)^(?:[¥￥$€£]|rmb|cny|usd|eur|hkd|元)+|(?:[¥￥$€£]|rmb|cny|usd|eur|hkd|元)+$"
)
_GROUPS = str.maketrans("", "", ",， _'")


# What most amounts in a shop's file look like: 3899.5, 3,899.50, ¥3,899.50 (at most 15
# digits, so a float holds each exactly as the Decimal path would give it).
_PLAIN_AMOUNT = re.compile(r"([0-9]{1,3}(?:,[0-9]{3}){1,4}|[0-9]{1,13})(\.[0-9]{1,2})?")
_PLAIN_MONEY = re.compile(r"[¥￥$]?([0-9]{1,3}(?:,[0-9]{3}){1,4}|[0-9]{1,13})(\.[0-9]{1,2})?")


def _plain_amount(cell: str, money: bool) -> int | float | None:
    """``cell`` as ``_decimal`` stores it when it is a plain amount, else None."""
    match = (_PLAIN_MONEY if money else _PLAIN_AMOUNT).fullmatch(cell)
    if match is None:
        return None
    whole, fraction = match.groups()
    whole = whole.replace(",", "")
    if fraction is None or not fraction.strip(".0"):
        return int(whole)
    return float(whole + fraction)


def _number_text(cell: Any, *, money: bool) -> decimal.Decimal:
    if isinstance(cell, bool):
        raise ValueError("yes/no is not a number")
    if isinstance(cell, (int, float, decimal.Decimal)):
        number = decimal.Decimal(str(cell))
    else:
        text = str(cell)
        text = (text if text.isascii() else unicodedata.normalize("NFKC", text)).strip()
        negative = text.startswith("(") and text.endswith(")")
        if negative:
            text = text[1:-1].strip()
        if money:
            text = _CURRENCY.sub("", text.replace(" ", "")).strip()
            if text.startswith("-") and _CURRENCY.match(text[1:]):
                text = "-" + _CURRENCY.sub("", text[1:])
        text = text.translate(_GROUPS)
        try:
            number = decimal.Decimal(text)
        except decimal.InvalidOperation:
            what = "an amount of money" if money else "a number"
            raise ValueError(f"{cell!r} is not {what}") from None
        if negative:
            number = -number
    if not number.is_finite():
        raise ValueError(f"{cell!r} is not a finite number")
    return number


# A whole column of plain amounts, read in one pass: ``_PLAIN_MONEY`` (or ``_PLAIN_AMOUNT``)
# line by line, each maybe blank or padded with spaces, with no leading zero so that JSON
# reads every line as ``_plain_amount`` would (int for 12 and 12.00, float for 12.50).
_STRICT_AMOUNT = r"(?:[1-9][0-9]{0,2}(?:,[0-9]{3}){1,4}|0|[1-9][0-9]{0,12})(?:\.[0-9]{1,2})?"


def _amount_lines(money: bool, spaces: bool) -> re.Pattern[str]:
    """Lines of amounts, each ending in a line break; padding spaces slow the match 30%."""
    line = rf"(?:[¥￥$]?{_STRICT_AMOUNT})?" if money else rf"(?:{_STRICT_AMOUNT})?"
    if spaces:
        line = rf" *{line} *"
    return re.compile(rf"(?:{line}\n)*+")


_AMOUNT_LINES = {(m, s): _amount_lines(m, s) for m in (False, True) for s in (False, True)}
_ZERO_FRACTION = re.compile(r"\.0{1,2}(?=\n|\Z)")
_BLANK_LINE = re.compile(r"(?m)^$")


def _amount_column(
    otherwise: Callable[[list[Any]], list[Any]], *, money: bool
) -> Callable[[list[Any]], list[Any]]:
    """A column of plain amounts converted by a regex and ``json.loads`` over the whole chunk.

    Amounts hardly repeat (the remembered texts miss), and per cell ``_plain_amount``
    costs a Python call, a match and an int or float: 1.9-2.1 µs a cell on bench/import.py's
    "¥3,899.50" column, 0.5-0.7 this way. Any other column goes to ``otherwise`` (the
    remembering column), which gives the errors.
    """

    def column(cells: list[Any]) -> list[Any]:
        if not _all_text(cells):
            return otherwise(cells)
        joined = _lines(cells)
        if joined is None:
            return otherwise(cells)
        if _AMOUNT_LINES[money, " " in joined].fullmatch(joined + "\n") is None:
            return otherwise(cells)
        text = joined
        for mark in "¥￥$, ":  # str.translate with a table is slow on non-ASCII text
            if mark in text:
                text = text.replace(mark, "")
        text = _ZERO_FRACTION.sub("", text)  # 12.00 is the int 12
        if "\n\n" in f"\n{text}\n":  # blank cells
            text = _BLANK_LINE.sub("null", text)
        return json.loads("[" + text.replace("\n", ",") + "]")

    return column


def _integer(prop: dict[str, Any], options: Options) -> Converter:
    def convert(cell: Any) -> int:
        if type(cell) is str and cell.isdigit() and len(cell) < 16:
            return int(cell)
        number = _number_text(cell, money=False)
        if number != number.to_integral_value():
            raise ValueError(f"{cell!r} has a fraction; this field takes whole numbers")
        return int(number)

    return convert


def _decimal(money: bool) -> Callable[[dict[str, Any], Options], Converter]:
    def make(prop: dict[str, Any], options: Options) -> Converter:
        def convert(cell: Any) -> int | float:
            if type(cell) is str:
                plain = _plain_amount(cell, money)
                if plain is not None:
                    return plain
            number = _number_text(cell, money=money)
            if number == number.to_integral_value() and abs(number) < 2**53:
                return int(number)
            return float(number)

        return convert

    return make


# --- yes / no ------------------------------------------------------------------------------

_YES = {"1", "true", "yes", "y", "t", "on", "是", "有", "真", "对", "√", "✓", "✔"}
_NO = {"0", "false", "no", "n", "f", "off", "否", "无", "没有", "假", "不", "×", "✗", "x"}


def _boolean(prop: dict[str, Any], options: Options) -> Converter:
    def convert(cell: Any) -> bool:
        if isinstance(cell, bool):
            return cell
        if isinstance(cell, (int, float)) and cell in (0, 1):
            return bool(cell)
        text = str(cell).strip().lower()
        if text in _YES:
            return True
        if text in _NO:
            return False
        raise ValueError(f"{cell!r} is not yes or no")

    return convert


# --- dates and times ---------------------------------------------------------------------

_YMD = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:(?:[ T]+|(?<=日))(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?)?"
)
_DMY = re.compile(
    r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*(Z|[+-]\d{2}:?\d{2})?)?"
)
_TIME_MARKS = str.maketrans({"时": ":", "点": ":", "分": ":", "秒": ""})
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")


def parse_when(cell: Any, options: Options) -> tuple[dt.date, dt.datetime | None]:
    """(date, aware datetime or None when no time was given) from a cell or an ISO string."""
    if isinstance(cell, dt.datetime):
        return cell.date(), _aware(cell, options)
    if isinstance(cell, dt.date):
        return cell, None
    text = unicodedata.normalize("NFKC", str(cell)).strip()
    if not text.isascii():  # 12时30分(5秒), 12点30分: the time as 12:30(:05)
        text = text.translate(_TIME_MARKS).rstrip(":").replace(": ", ":")
    match = _YMD.fullmatch(text)
    if match:
        y, m, d, hh, mm, ss, frac, zone = match.groups()
    else:
        match = _DMY.fullmatch(text)
        if match:
            a, b, y, hh, mm, ss, frac, zone = match.groups()
            d, m = (a, b) if options.day_first else (b, a)
        else:
            match = _COMPACT.fullmatch(text)
            if not match:
                raise ValueError(f"{cell!r} is not a date (write 2024-03-05 or 2024/3/5)")
            y, m, d = match.groups()
            hh = mm = ss = frac = zone = None
    try:
        day = dt.date(int(y), int(m), int(d))
        if hh is None:
            return day, None
        moment = dt.datetime(
            day.year,
            day.month,
            day.day,
            int(hh),
            int(mm or 0),
            int(ss or 0),
            int((frac or "0").ljust(6, "0")),
        )
    except ValueError:
        raise ValueError(f"{cell!r} is not a real date or time") from None
    if zone:
        offset = dt.timedelta(0) if zone == "Z" else _offset(zone)
        return day, moment.replace(tzinfo=dt.timezone(offset))
    return day, _aware(moment, options)


def _offset(zone: str) -> dt.timedelta:
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))


def _aware(moment: dt.datetime, options: Options) -> dt.datetime:
    if moment.tzinfo is not None:
        return moment
    try:
        zone = zoneinfo.ZoneInfo(options.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return moment.replace(tzinfo=zone)


# 2024/3/5, 2024-03-05, 2024.3.5: what ``_YMD`` reads without a time, in ASCII.
_PLAIN_DATE = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})")


def _date(prop: dict[str, Any], options: Options) -> Converter:
    def convert(cell: Any) -> str:
        if type(cell) is str:
            if len(cell) == 10 and cell[4] == "-" and cell[7] == "-":
                try:
                    return dt.date.fromisoformat(cell).isoformat()
                except ValueError:
                    pass
            match = _PLAIN_DATE.fullmatch(cell)
            if match:  # parse_when's answer for these, without NFKC and the long pattern
                year, _, month, day = match.groups()
                try:
                    return dt.date(int(year), int(month), int(day)).isoformat()
                except ValueError:
                    pass  # parse_when says why
        return parse_when(cell, options)[0].isoformat()

    return convert


def _datetime(prop: dict[str, Any], options: Options) -> Converter:
    to_utc = field_types.get("datetime").convert

    def convert(cell: Any) -> str:
        day, moment = parse_when(cell, options)
        if moment is None:
            moment = _aware(dt.datetime(day.year, day.month, day.day), options)
        return to_utc(moment.isoformat())

    return convert


# --- choices -------------------------------------------------------------------------------


def squash(text: str) -> str:
    """Text compared without case, width, spaces or punctuation: "Gold Card" ~ "gold-card"."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def _choices(prop: dict[str, Any]) -> dict[str, str]:
    options = [o for o in prop.get("enum", []) if isinstance(o, str)]
    out: dict[str, str] = {}
    labels = prop.get("x-enum-labels") if isinstance(prop.get("x-enum-labels"), dict) else {}
    for option in options:
        for label in (labels.get(option) or {}).values():
            if isinstance(label, str) and squash(label):
                out.setdefault(squash(label), option)
    for option in options:  # values win over labels
        if squash(option):
            out[squash(option)] = option
    return out


def _enum(prop: dict[str, Any], options: Options) -> Converter:
    exact = {o for o in prop.get("enum", []) if isinstance(o, str)}
    lookup = _choices(prop)

    def convert(cell: Any) -> str:
        text = str(cell).strip() if not isinstance(cell, str) else cell
        if text in exact:
            return text
        found = lookup.get(squash(text))
        if found is None:
            raise ValueError(f"{cell!r} is not one of the options")
        return found

    return convert


_SPLIT = re.compile(r"\s*[,，;；、|]\s*")


def _multi_enum(prop: dict[str, Any], options: Options) -> Converter:
    one = _enum(prop, options)

    def convert(cell: Any) -> list[str]:
        items = cell if isinstance(cell, list) else _SPLIT.split(str(cell))
        out: list[str] = []
        for item in items:
            if str(item).strip():
                value = one(item)
                if value not in out:
                    out.append(value)
        return out

    return convert


def _list(prop: dict[str, Any], options: Options) -> Converter:
    items = prop.get("items") if isinstance(prop.get("items"), dict) else {"x-type": "string"}
    one = converter_for(items, options)

    def convert(cell: Any) -> list[Any]:
        parts = cell if isinstance(cell, list) else _SPLIT.split(str(cell))
        return [v for v in (one(p) for p in parts) if v is not None]

    return convert


# --- contact details -----------------------------------------------------------------------


def _email(prop: dict[str, Any], options: Options) -> Converter:
    def convert(cell: Any) -> str:
        text = str(cell)
        if not text.isascii():  # NFKC leaves ASCII as it is
            text = unicodedata.normalize("NFKC", text)
        return text.strip().lower()

    return convert


# Chinese mobile numbers, by far the most common in a shop's files, without the cost of a
# full parse (~150 µs each): phonenumbers gives +86 and the 11 digits for every one of them
# (tests/exchange/test_convert.py holds the two together).
_CN_MOBILE = re.compile(r"(\+86|0086)?(1[3-9]\d{9})")
_SEPARATORS = str.maketrans("", "", " -()\u00a0")


def normalise_phone(text: str, region: str) -> str:
    """A phone number in E.164 (+8613800138000); ValueError if it cannot be one."""
    if text.isascii():
        match = _CN_MOBILE.fullmatch(text.translate(_SEPARATORS))
        if match and (match.group(1) or region.upper() == "CN"):
            return "+86" + match.group(2)
    import phonenumbers

    text = unicodedata.normalize("NFKC", str(text)).strip()
    try:
        number = phonenumbers.parse(text, region.upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{text!r} is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"{text!r} is not a possible phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone(prop: dict[str, Any], options: Options) -> Converter:
    region = options.region
    in_china = region.upper() == "CN"

    def convert(cell: Any) -> str:
        if type(cell) is str and cell.isascii():  # normalise_phone's fast path, inline
            match = _CN_MOBILE.fullmatch(cell.translate(_SEPARATORS))
            if match and (in_china or match.group(1)):
                return "+86" + match.group(2)
        if isinstance(cell, (int, float)) and not isinstance(cell, bool):
            cell = str(int(cell))
        return normalise_phone(str(cell), region)

    return convert


def _email_column(convert: Converter) -> Callable[[list[Any]], list[Any]]:
    """ASCII cells stripped and lowered in C (NFKC leaves ASCII as is): 0.2 µs a cell, not 0.3."""

    def column(cells: list[Any]) -> list[Any]:
        if not _all_text(cells) or not "".join(cells).isascii():
            return list(map(convert, cells))
        values = list(map(str.lower, map(str.strip, cells)))
        return list(map(_BLANK.get, values, values)) if "" in values else values

    return column


_CN_MOBILE_LINE = r"(?:(?:\+86|0086)?1[3-9][0-9]{9})?"
_CN_MOBILE_LINES = re.compile(rf"(?:{_CN_MOBILE_LINE}\n)*+")  # over the lines and a last "\n"
_CN_PREFIXED_LINE = r"(?:(?:\+86|0086)1[3-9][0-9]{9})?"
_CN_PREFIXED_LINES = re.compile(rf"(?:{_CN_PREFIXED_LINE}\n)*+")
_NO_NUMBER = {"+86": None}  # a blank line, once every line is given +86
_SEPARATORS_ONLY = re.compile(r"(?m)^ *[-()][-() ]*$")  # "-" is refused, not blank


def _phone_column(convert: Converter, *, in_china: bool) -> Callable[[list[Any]], list[Any]]:
    """A column of Chinese mobiles (``_phone``'s fast path) read by one regex over the chunk.

    2.0-2.4 µs a cell one by one on bench/import.py's column, 0.3 this way. Anything else (a
    landline, a foreign number, full-width digits, a tab) sends the whole column cell by
    cell, where ``normalise_phone`` reads or refuses it.
    """
    lines_pattern = _CN_MOBILE_LINES if in_china else _CN_PREFIXED_LINES

    def column(cells: list[Any]) -> list[Any]:
        if not _all_text(cells):
            return list(map(convert, cells))
        joined = _lines(cells)
        if joined is None or not joined.isascii():
            return list(map(convert, cells))
        text = "\n" + joined.translate(_SEPARATORS) + "\n"
        if lines_pattern.fullmatch(text, 1) is None:
            return list(map(convert, cells))
        # Each line is now blank or 11 digits after +86 or 0086 ("+" and a leading 0 are
        # only ever a prefix): drop the prefixes, then give every line +86.
        text = text[:-1].replace("+86", "").replace("\n0086", "\n").replace("\n", "\n+86")
        values = text[1:].split("\n")
        if "+86" in values:
            if _SEPARATORS_ONLY.search(joined):
                return list(map(convert, cells))
            return list(map(_NO_NUMBER.get, values, values))
        return values

    return column


def _relation(prop: dict[str, Any], options: Options) -> Converter:
    integer = _integer(prop, options)

    def convert(cell: Any) -> int:
        text = str(cell).strip().lstrip("#")
        return integer(text)

    return convert


BUILTIN_CONVERTERS = [
    CellConverter("string", _text),
    CellConverter("text", _text),
    CellConverter("integer", _integer),
    CellConverter("decimal", _decimal(money=False)),
    CellConverter("money", _decimal(money=True)),
    CellConverter("boolean", _boolean),
    CellConverter("date", _date),
    CellConverter("datetime", _datetime),
    CellConverter("enum", _enum),
    CellConverter("multi_enum", _multi_enum),
    CellConverter("email", _email),
    CellConverter("phone", _phone),
    CellConverter("relation", _relation),
    CellConverter("list", _list),
]


TEXT_TYPES = frozenset({"string", "text"})
REPEATING_TYPES = frozenset({"date", "datetime", "enum", "boolean", "decimal", "money", "integer"})


def register_builtins() -> None:
    """Called from ``ExchangeConfig.ready``: the built-in types' converters."""
    for converter in BUILTIN_CONVERTERS:
        if converter.type not in cell_converters:
            cell_converters.register(converter)
