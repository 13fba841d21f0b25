"""The fast and the precise record validator accept and refuse exactly the same documents.

``RecordValidator.is_valid`` (fastjsonschema, plus the bounds it cannot see) decides the
common case; ``RecordValidator.errors`` (jsonschema) explains a refusal. If they ever
disagree, a write is accepted that the error report calls invalid, or refused with no
reason given. Hypothesis builds object definitions from the built-in field types and
throws valid values and near misses at them: 1.0 for 1, True for 1, huge integers,
unicode, 2024-02-30, duplicates that are equal only across types, unstorable text.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from typing import Any

import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.definitions.errors import ValidationFailed
from tessera.definitions.formats import COLUMN_FORMATS, FORMATS, STORABLE_TEXT, pattern_format
from tessera.definitions.object_schema import compile_object_schema, object_body_errors
from tessera.records.validation import RecordValidator

# Patterns an author might write; all are RE2 syntax. ``^(a+)+$`` is catastrophic on a
# backtracking engine, and the one with quotes would break generated code if pasted into it.
PATTERNS = [
    r"^[a-z]+$",
    r"\d{3}",
    r"^(a+)+$",
    r"^$",
    r"^[\p{Han}]+$",
    r"^[A-Z]{2}-\d{4}$",
    r"(?i)^vip",
    'x" if print("injected") else "',
    r"^\S+$",
]

SCALARS = [
    "string", "text", "integer", "decimal", "money", "boolean", "date", "datetime",
    "enum", "email", "phone", "url", "relation",
]  # fmt: skip

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)

# Text that stresses generated code and encodings: quotes, braces, backslashes, newlines,
# NUL, an unpaired surrogate, wide and combining characters.
AWKWARD = st.sampled_from(
    ['"', "'", "{}", "{0}", "\\", "\n", "\x00", "\ud800", "é", "e\u0301", "客户", "😀", " ", ""]
)
TEXT = st.one_of(
    st.text(max_size=20),
    st.lists(AWKWARD, max_size=4).map("".join),
    st.text(alphabet=string.ascii_lowercase, max_size=8),
)

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    TEXT,
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def _numeric_bounds() -> st.SearchStrategy[dict[str, Any]]:
    bound = st.one_of(
        st.integers(-1000, 1000),
        st.floats(-1e6, 1e6, allow_nan=False),
        st.sampled_from([0, 0.0, -0.0, 2**53, 1e15, -1e15, 2**60]),
    )
    return st.fixed_dictionaries({}, optional={"minimum": bound, "maximum": bound})


def _string_keywords(max_length: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "minLength": st.integers(0, 12),
            "maxLength": st.integers(0, max_length),
            "pattern": st.sampled_from(PATTERNS),
        },
    )


def scalar_field(x_type: str) -> st.SearchStrategy[dict[str, Any]]:
    base = st.just({"x-type": x_type})
    if x_type == "string":
        extra = _string_keywords(300)
    elif x_type == "text":
        extra = _string_keywords(70_000)
    elif x_type in ("integer", "decimal", "money"):
        extra = _numeric_bounds()
    elif x_type in ("enum", "multi_enum"):
        extra = st.fixed_dictionaries(
            {
                "enum": st.lists(
                    TEXT.filter(lambda s: len(s) <= 200 and re.fullmatch(STORABLE_TEXT, s)),
                    min_size=1,
                    max_size=5,
                    unique=True,
                )
            }
        )
    elif x_type == "relation":
        extra = st.just({"x-relation": {"object": "other"}})
    else:
        extra = st.just({})
    return st.tuples(base, extra).map(lambda parts: {**parts[0], **parts[1]})


def field() -> st.SearchStrategy[dict[str, Any]]:
    scalar = st.sampled_from(SCALARS).flatmap(scalar_field)
    multi = scalar_field("multi_enum")
    listed = st.tuples(
        scalar,
        st.fixed_dictionaries(
            {},
            optional={
                "minItems": st.integers(0, 3),
                "maxItems": st.integers(0, 6),
                "uniqueItems": st.booleans(),
            },
        ),
    ).map(lambda parts: {"x-type": "list", "items": parts[0], **parts[1]})
    patterned = st.sampled_from(PATTERNS).map(lambda p: {"x-type": "string", "pattern": p})
    return st.one_of(scalar, scalar, scalar, patterned, multi, listed)


@st.composite
def object_bodies(draw) -> dict[str, Any]:
    properties = draw(st.dictionaries(NAMES, field(), min_size=1, max_size=6))
    required = draw(st.lists(st.sampled_from(sorted(properties)), unique=True, max_size=3))
    body: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        body["required"] = required
    return body


# --- values: plausible ones and near misses, per field type -----------------------------

DATES = st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat)
NEAR_DATES = st.sampled_from(
    [
        "2024-02-30",
        "2023-02-29",
        "2024-2-3",
        "2024-13-01",
        "0000-01-01",
        "2024-01-01T00:00:00Z",
        "٢٠٢٤-٠١-٠١",
        "２０２４-01-01",
        "2024-01-01\n",
        " 2024-01-01",
        "20240101",
    ]
)
DATETIMES = st.datetimes(
    min_value=dt.datetime(1, 1, 1), timezones=st.just(dt.UTC) | st.timezones()
).map(lambda d: d.isoformat())
NEAR_DATETIMES = st.sampled_from(
    [
        "2024-01-01T00:00:00",
        "2024-01-01T24:00:00Z",
        "2024-01-01 10:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2024-01-01T10:00:00.1234567Z",
        "2024-02-30T10:00:00Z",
        "2024-01-01T10:00:00.5+08:00",
    ]
)
EMAILS = st.from_regex(r"[a-z0-9.+_-]{1,10}@[a-z0-9-]{1,10}(\.[a-z]{2,5}){1,2}", fullmatch=True)
NEAR_EMAILS = st.sampled_from(
    ["a@b", "@b.co", "a@-b.co", "a b@c.co", "a@b.co ", "A@B.CO", "a\x00@b.co", "a@b..co"]
)
PHONES = st.from_regex(r"\+?[0-9][0-9 ()-]{3,20}", fullmatch=True)
URLS = st.from_regex(r"https?://[a-z0-9.-]{1,20}(/[a-z0-9/?=&#-]{0,20})?", fullmatch=True)
NEAR_URLS = st.sampled_from(
    ["ftp://x.y", "http://", "https:// x", "javascript:alert(1)", "http://a\x00"]
)
NUMBER_MISSES = st.one_of(
    st.sampled_from(
        [
            True,
            False,
            1.0,
            -0.0,
            2**53,
            2**53 - 1,
            -(2**53) + 1,
            1e15,
            1e16,
            10**30,
            10**400,
            1.5,
            float("inf"),
            float("-inf"),
            "1",
            None,
            [1],
            {"a": 1},
        ]
    )
)


def _python_re_can_read(pattern: str) -> bool:
    """Hypothesis generates from Python's ``re``, which does not know RE2's ``\\p{Han}``."""
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


MATCHING = {p: st.from_regex(p, fullmatch=True) for p in PATTERNS if _python_re_can_read(p)}
INTEGERS = st.one_of(st.integers(), st.integers(-5, 5).map(float), NUMBER_MISSES)
NUMBERS = st.one_of(st.floats(allow_nan=False), st.integers(), NUMBER_MISSES)
BOOLEANS = st.sampled_from([True, False, 0, 1, 1.0, "true", None])
LONG_TEXT = st.text(max_size=400)
BY_TYPE = {
    "integer": INTEGERS,
    "relation": INTEGERS,
    "decimal": NUMBERS,
    "money": NUMBERS,
    "boolean": BOOLEANS,
    "date": st.one_of(DATES, NEAR_DATES, DATETIMES),
    "datetime": st.one_of(DATETIMES, NEAR_DATETIMES, DATES),
    "email": st.one_of(EMAILS, NEAR_EMAILS, TEXT),
    "phone": st.one_of(PHONES, TEXT, st.sampled_from(["+86 138 0013 8000", "12", "+٣٣٣٣٣"])),
    "url": st.one_of(URLS, NEAR_URLS),
}
EQUAL_ACROSS_TYPES = st.sampled_from([[1, 1.0], [0.0, -0.0], [True, 1], [False, 0], ["a", "a"]])


def draw_value(draw, prop: dict[str, Any]) -> Any:
    """A value for one field: usually of its type (valid or a near miss), else any JSON.

    Strategies are built once at module level and picked from here: building one per
    field per example costs more than drawing from it.
    """
    if draw(st.integers(0, 3)) == 0:
        return draw(ANY_JSON)
    x_type = prop["x-type"]
    if x_type in BY_TYPE:
        return draw(BY_TYPE[x_type])
    if x_type in ("string", "text"):
        choice = draw(st.integers(0, 3))
        if choice == 1 and prop.get("pattern") in MATCHING:
            return draw(MATCHING[prop["pattern"]])
        if choice == 2 and "maxLength" in prop:
            # exactly at the limit and one past it, in wide characters
            return "é" * (prop["maxLength"] + draw(st.integers(0, 1)))
        return draw(LONG_TEXT if choice == 3 else TEXT)
    if x_type == "enum":
        option = draw(st.sampled_from(prop["enum"]))
        return draw(st.sampled_from([option, option, option.upper(), option + " "]))
    if x_type == "multi_enum":
        size = draw(st.integers(0, len(prop["enum"]) + 1))
        return [
            draw(st.sampled_from(prop["enum"])) if draw(st.booleans()) else draw(TEXT)
            for _ in range(size)
        ]
    if x_type == "list":
        choice = draw(st.integers(0, 3))
        if choice == 0:
            return draw(EQUAL_ACROSS_TYPES)
        if choice == 1:  # a duplicate
            return [draw_value(draw, prop["items"])] * 2
        return [draw_value(draw, prop["items"]) for _ in range(draw(st.integers(0, 7)))]
    return draw(ANY_JSON)  # a field type added later: anything


@st.composite
def documents(draw, body: dict[str, Any]) -> Any:
    if draw(st.integers(0, 19)) == 0:
        return draw(ANY_JSON)  # not an object at all, usually
    properties = body["properties"]
    present = draw(st.lists(st.sampled_from(sorted(properties)), unique=True))
    doc = {name: draw_value(draw, properties[name]) for name in present}
    if draw(st.integers(0, 9)) == 0:
        doc[draw(TEXT)] = draw(ANY_JSON)  # an unknown field, or one of the known ones again
    return doc


@st.composite
def cases(draw) -> tuple[dict[str, Any], list[Any]]:
    body = draw(object_bodies())
    return body, draw(st.lists(documents(body), min_size=1, max_size=8))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_fast_and_precise_validators_agree(case):
    body, docs = case
    assert object_body_errors(body) == [], "the generated definition is one an author may save"
    validator = RecordValidator(compile_object_schema(body))
    for doc in docs:
        errors = validator.errors(doc)
        assert validator.is_valid(doc) == (errors == []), (doc, errors)
        if errors:
            with pytest.raises(ValidationFailed) as refused:
                validator.validate(doc)
            assert refused.value.errors == errors
            assert all(e.path.startswith("$") for e in errors)
        else:
            validator.validate(doc)


# --- near misses the generators might not reach in 250 examples, pinned ------------------

EVERY_TYPE = {
    "type": "object",
    "properties": {
        "name": {"x-type": "string", "maxLength": 10, "pattern": "^[a-z]+$"},
        "notes": {"x-type": "text"},
        "count": {"x-type": "integer", "minimum": 0},
        "ratio": {"x-type": "decimal"},
        "spent": {"x-type": "money"},
        "vip": {"x-type": "boolean"},
        "birthday": {"x-type": "date"},
        "seen_at": {"x-type": "datetime"},
        "level": {"x-type": "enum", "enum": ["gold", 'say "hi"', "{0}", "back\\slash"]},
        "labels": {"x-type": "multi_enum", "enum": ["a", "b"]},
        "email": {"x-type": "email"},
        "phone": {"x-type": "phone"},
        "site": {"x-type": "url"},
        "owner": {"x-type": "relation", "x-relation": {"object": "other"}},
        "scores": {"x-type": "list", "items": {"x-type": "decimal"}, "uniqueItems": True},
        "flags": {"x-type": "list", "items": {"x-type": "boolean"}, "uniqueItems": True},
        "code": {"x-type": "string", "pattern": 'x" if print("injected") else "'},
    },
}

PINNED = [
    {"count": 1.0},
    {"count": True},
    {"count": 10**30},
    {"count": 2.0**53},
    {"ratio": True},
    {"ratio": 1e16},
    {"ratio": 10**400},
    {"ratio": float("inf")},
    {"birthday": "2024-02-30"},
    {"birthday": "٢٠٢٤-٠١-٠١"},
    {"seen_at": "0001-01-01T00:00:00+01:00"},
    {"seen_at": "2024-01-01T10:00:00"},
    {"scores": [1, 1.0]},
    {"scores": [0.0, -0.0]},
    {"flags": [True, 1]},
    {"flags": [True, True]},
    {"labels": ["a", "a"]},
    {"level": 'say "hi"'},
    {"level": "{0}"},
    {"level": "back\\slash"},
    {"name": "abc\n"},
    {"name": "abc"},
    {"name": "ab\x00c"},
    {"notes": "fine\x00"},
    {"notes": "lone \ud800 surrogate"},
    {"email": "a\x00@b.co"},
    {"site": "http://a\x00"},
    {"code": "x"},
    {"code": "\ud800"},
    {"scores": [[[[1]]]]},
]


@pytest.mark.parametrize("doc", PINNED, ids=repr)
def test_pinned_near_misses_agree(doc, capsys):
    validator = RecordValidator(compile_object_schema(EVERY_TYPE))
    errors = validator.errors(doc)
    assert validator.is_valid(doc) == (errors == []), errors
    assert "injected" not in capsys.readouterr().out, "an author pattern ran as code"


def test_author_pattern_is_never_pasted_into_generated_code(capsys):
    """fastjsonschema writes format names into Python source; a pattern must not be one."""
    validator = RecordValidator(compile_object_schema(EVERY_TYPE))
    # As a pattern it matches text holding x" if print"injected" else " (the parentheses group).
    assert validator.is_valid({"code": 'x" if print"injected" else "'}) is True
    assert validator.is_valid({"code": "x"}) is False
    assert [(e.path, e.code) for e in validator.errors({"code": "x"})] == [("$.code", "pattern")]
    assert "injected" not in capsys.readouterr().out
    for fmt in _formats(validator.schema):
        assert set(fmt) <= set(string.ascii_lowercase + string.digits + "-"), fmt


def test_text_that_cannot_be_stored_is_refused_with_its_path():
    validator = RecordValidator(compile_object_schema(EVERY_TYPE))
    for doc, path in [({"notes": "a\x00b"}, "$.notes"), ({"name": "\ud800"}, "$.name")]:
        assert not validator.is_valid(doc)
        assert [e.path for e in validator.errors(doc)] == [path]


def test_too_deep_list_items_are_refused_not_crashing():
    """fastjsonschema checks uniqueItems (recursively) before the type of each item."""
    deep: Any = 1
    for _ in range(1000):
        deep = [deep]
    validator = RecordValidator(compile_object_schema(EVERY_TYPE))
    doc = {"scores": [deep, deep]}
    assert not validator.is_valid(doc)
    assert [(e.path, e.code) for e in validator.errors(doc)] == [("$", "too_deep")]


def test_a_valid_document_over_the_size_limit_is_refused_by_both(settings):
    settings.TESSERA_LIMITS = {**settings.TESSERA_LIMITS, "record_bytes": 1000}
    validator = RecordValidator(compile_object_schema(EVERY_TYPE))
    doc = {"notes": "x" * 2000}
    assert not validator.is_valid(doc)
    assert [(e.path, e.code) for e in validator.errors(doc)] == [("$", "too_large")]
    assert validator.is_valid({"notes": "x" * 100})


def _formats(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["format"]] if isinstance(node.get("format"), str) else []
        return own + [f for value in node.values() for f in _formats(value)]
    if isinstance(node, list):
        return [f for value in node for f in _formats(value)]
    return []


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(PATTERNS),
    st.one_of(TEXT, st.sampled_from(["aaa", "abc", "客户", "VIP1", "AB-1234", "vipé"])),
)
def test_author_patterns_answer_as_re2_search_does(pattern, text):
    """Pattern formats ask RE2's engine directly for a yes/no; it must be search's answer."""
    try:
        expected = re2.compile(pattern).search(text) is not None
    except UnicodeEncodeError:
        expected = False
    assert pattern_format(pattern)(text) is expected


# --- many records at once: ``valid_rows`` is ``is_valid`` of each -------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.integers(1, 4))
def test_records_judged_a_column_at_a_time_are_judged_as_one_at_a_time(case, copies):
    """The column checks only prove records valid; every answer is ``is_valid``'s own."""
    body, docs = case
    validator = RecordValidator(compile_object_schema(body))
    rows = docs * copies
    assert validator.valid_rows(rows) == [validator.is_valid(doc) for doc in rows]


CUSTOMER = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"x-type": "string", "maxLength": 8},
        "level": {"x-type": "enum", "enum": ["gold", "silver"]},
        "points": {"x-type": "integer", "minimum": 0},
        "spent": {"x-type": "money", "minimum": 0},
        "vip": {"x-type": "boolean"},
        "birthday": {"x-type": "date"},
        "code": {"x-type": "string", "pattern": "^[A-Z]+$"},
        "tags": {"x-type": "list", "items": {"x-type": "string", "maxLength": 3}},
    },
}
GOOD = {
    "name": "Mei",
    "level": "gold",
    "points": 3,
    "spent": 1.5,
    "vip": True,
    "birthday": "1990-03-05",
    "code": "AB",
    "tags": ["a"],
}


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "x" * 9},
        {"name": "a\x00b"},
        {"name": 5},
        {"level": "bronze"},
        {"points": -1},
        {"points": True},
        {"points": 2.0},  # valid: an integral float is an integer to JSON Schema
        {"spent": float("nan")},  # valid to both engines
        {"spent": -1},  # behind the NaN of row 0, min() would not see it
        {"vip": 1},
        {"birthday": "1990-02-30"},
        {"code": "ab"},
        {"code": "AB\n"},
        {"tags": ["abcd"]},
        {"unknown": 1},
    ],
    ids=repr,
)
def test_one_odd_value_in_a_column_is_judged_alone(bad):
    validator = RecordValidator(compile_object_schema(CUSTOMER))
    rows = [dict(GOOD) for _ in range(50)]
    rows[7] = {**GOOD, **bad}
    rows[30] = {"level": "silver"}  # no name: required
    rows[0] = {**GOOD, "spent": float("nan")}  # first: min() then keeps it
    expected = [validator.is_valid(row) for row in rows]
    assert validator.valid_rows(rows) == expected
    assert expected.count(False) >= 1


FORMAT_VALUES = {
    "tessera-date": BY_TYPE["date"],
    "tessera-email": BY_TYPE["email"],
    "tessera-phone": BY_TYPE["phone"],
    "tessera-url": st.one_of(URLS, NEAR_URLS, TEXT),
}


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(sorted(COLUMN_FORMATS)).flatmap(
        lambda name: st.tuples(
            st.just(name), st.lists(FORMAT_VALUES[name], min_size=1, max_size=30)
        )
    )
)
def test_a_format_asked_of_a_column_answers_as_it_does_of_each_text(case):
    name, values = case
    values = [v for v in values if isinstance(v, str)] or ["x"]
    assert COLUMN_FORMATS[name](values) is all(FORMATS[name](v) for v in values)


def test_a_column_of_urls_with_a_bad_last_one_is_answered_quickly():
    """A URL matches its text in many ways; none of them is tried again for the next text."""
    values = ["http://" + "a" * 60 + "/b"] * 2000 + ["http:// nope"]
    assert COLUMN_FORMATS["tessera-url"](values) is False
