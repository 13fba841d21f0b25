"""Whatever a client sends to a record write, the answer is a refusal that names where.

Hypothesis throws random JSON (and valid records with one value spoiled) at
``records.service.create`` and ``update``. Every answer must be ``ValidationFailed`` with
JSON paths, or ``RecordNotFound`` / ``VersionConflict`` where the id or version is wrong,
never another exception, and a refused write leaves every records table as it was. A
write that is accepted must have been valid; it is rolled back so examples stay apart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.apps import apps
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tessera.definitions.errors import ValidationFailed
from tessera.records import service

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    # The fixtures publish two objects once per test; each example runs in a savepoint
    # that is rolled back, so sharing them across examples is what we want.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

TARGET: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "x-unique-together": [["name", "born"]],
    "properties": {
        "name": {"x-type": "string", "maxLength": 40},
        "code": {"x-type": "string", "pattern": "^[A-Z]{2}-[0-9]{4}$", "x-unique": True},
        "notes": {"x-type": "text"},
        "email": {"x-type": "email", "x-unique": True},
        "phone": {"x-type": "phone", "x-index": True},
        "site": {"x-type": "url"},
        "born": {"x-type": "date", "x-index": True},
        "seen_at": {"x-type": "datetime", "x-index": True},
        "points": {"x-type": "integer", "minimum": 0, "x-index": True},
        "spent": {"x-type": "money", "x-index": True},
        "ratio": {"x-type": "decimal"},
        "vip": {"x-type": "boolean", "x-index": True},
        "level": {"x-type": "enum", "enum": ["bronze", "gold"]},
        "channels": {"x-type": "multi_enum", "enum": ["email", "sms"]},
        "tags": {"x-type": "list", "items": {"x-type": "string", "maxLength": 20}},
        "owner": {"x-type": "relation", "x-relation": {"object": "fuzz_owner"}},
        "friends": {
            "x-type": "list",
            "items": {"x-type": "relation", "x-relation": {"object": "fuzz_owner"}},
        },
    },
}
OWNER: dict[str, Any] = {"properties": {"label": {"x-type": "string"}}}

VALID: dict[str, Any] = {
    "name": "Li Lei",
    "code": "ZJ-0001",
    "notes": "prefers evenings",
    "email": "lilei@example.cn",
    "phone": "+86 138 0013 8000",
    "site": "https://example.cn/lilei",
    "born": "1990-02-28",
    "seen_at": "2024-03-01T10:00:00+08:00",
    "points": 10,
    "spent": 99.5,
    "ratio": 0.25,
    "vip": True,
    "level": "gold",
    "channels": ["sms"],
    "tags": ["new"],
}

TEXT = st.one_of(
    st.text(max_size=30),
    st.lists(
        st.sampled_from(['"', "'", "\\", "\x00", "\ud800", "客户", "😀", "{0}", "\n", "$", "."]),
        max_size=5,
    ).map("".join),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**53, 2**63, 2**64 + 1, -(2**63) - 1, 10**300, 1.0, -0.0, 1e308]),
    st.floats(allow_nan=False),  # NaN is not JSON; infinities are kept (Python callers)
    TEXT,
    st.sampled_from(
        ["2024-02-30", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
         "0005-01-01T00:00:00Z", "2024-01-01T10:00:00", "ZJ-0001", "a@b.co", "gold"]
    ),
)  # fmt: skip
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=15,
)
FIELD_NAMES = st.sampled_from([*TARGET["properties"], "unknown", "", "$ref", "name "])


@st.composite
def payloads(draw) -> Any:
    """Random JSON, a random object, or a valid record with some values spoiled."""
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return draw(ANY_JSON)
    if shape == 1:
        return draw(st.dictionaries(FIELD_NAMES, ANY_JSON, max_size=6))
    doc = dict(VALID)
    for name in draw(st.lists(FIELD_NAMES, min_size=1, max_size=4)):
        if draw(st.booleans()):
            doc[name] = draw(ANY_JSON)
        else:
            doc.pop(name, None)
    return doc


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every records table (records, history, events, derived state)."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in apps.get_app_config("records").get_models()
    }


@pytest.fixture
def stored(publish_object):
    """The published objects and one stored record of each: (target record, owner record)."""
    publish_object("fuzz_owner", OWNER)
    publish_object("fuzz_target", TARGET)
    owner = service.create("fuzz_owner", {"label": "first"})
    target = service.create("fuzz_target", {**VALID, "owner": owner.pk, "friends": [owner.pk]})
    return target, owner


def assert_refusal_names_paths(refusal: ValidationFailed) -> None:
    assert refusal.errors, "a refusal says why"
    for error in refusal.errors:
        assert error.path.startswith("$") and error.code and error.message, error


def attempt(write, *args, **kwargs) -> tuple[str, Any]:
    """Run one write in a savepoint that is always rolled back; say how it answered."""
    before = snapshot()
    with transaction.atomic():
        try:
            result = ("stored", write(*args, **kwargs))
        except ValidationFailed as refusal:
            assert_refusal_names_paths(refusal)
            result = ("refused", refusal)
        except (service.RecordNotFound, service.VersionConflict) as refusal:
            result = ("refused", refusal)
        if result[0] == "refused":
            assert snapshot() == before, "a refused write changed stored rows"
        transaction.set_rollback(True)
    assert snapshot() == before
    return result


@FUZZ
@given(data=payloads())
@example(data=None)
@example(data=[VALID])
@example(data={**VALID, "seen_at": "0001-01-01T00:00:00+01:00"})  # overflows moving to UTC
@example(data={**VALID, "seen_at": "0005-01-01T00:00:00Z"})
@example(data={**VALID, "notes": "nul \x00 inside"})  # jsonb cannot hold it
@example(data={**VALID, "name": "\ud800"})
@example(data={**VALID, "code": "\ud800"})
@example(data={**VALID, "owner": 2**53 - 1})
@example(data={**VALID, "friends": [1, 1.0, True]})
@example(data={**VALID, "ratio": float("inf")})
def test_create_refuses_bad_input_and_stores_nothing(stored, data):
    outcome, _ = attempt(service.create, "fuzz_target", data)
    if outcome == "stored":
        assert isinstance(data, dict) and data.get("name"), "only a valid record is stored"


@FUZZ
@given(
    changes=payloads(),
    which=st.sampled_from(["target", "owner", "missing", "huge", "negative"]),
    version_offset=st.sampled_from([0, 0, 0, 1, -1, 2**64]),
)
@example(changes={"name": None}, which="target", version_offset=0)  # clears a required field
@example(changes={"email": "lilei@example.cn"}, which="target", version_offset=0)
@example(changes={"owner": 10**6}, which="target", version_offset=0)  # no such record
@example(changes={"notes": "x" * 300_000}, which="target", version_offset=0)
def test_update_refuses_bad_input_and_changes_nothing(stored, changes, which, version_offset):
    target, owner = stored
    record_id = {
        "target": target.pk,
        "owner": owner.pk,  # a record of another object
        "missing": target.pk + 1000,
        "huge": 2**70,
        "negative": -1,
    }[which]
    attempt(service.update, "fuzz_target", record_id, changes, version=1 + version_offset)


@FUZZ
@given(
    object_key=st.one_of(
        TEXT,
        st.sampled_from(["fuzz_owner", "FUZZ_TARGET", "customer", "fuzz_target "]),
    )
)
def test_an_unknown_object_is_refused(stored, object_key):
    outcome, _ = attempt(service.create, object_key, dict(VALID))
    assert outcome == "refused" or object_key == "fuzz_owner"


@pytest.mark.parametrize(
    "object_key",
    [
        "\ud800",
        "a\x00b",  # SQLite takes it (and finds nothing); PostgreSQL refuses NUL
    ],
)
def test_an_object_key_the_database_cannot_hold_is_refused(stored, object_key):
    outcome, _ = attempt(service.create, object_key, dict(VALID))
    assert outcome == "refused"


def test_datetimes_are_stored_in_one_utc_shape_or_refused(stored):
    fresh = {k: v for k, v in VALID.items() if k not in ("code", "email")}  # both unique
    early = {**fresh, "name": "early", "seen_at": "0005-01-01T00:00:00+00:00"}
    record = service.create("fuzz_target", early)
    assert record.data["seen_at"] == "0005-01-01T00:00:00.000000Z"
    refused = {**fresh, "name": "edge", "seen_at": "0001-01-01T00:00:00+01:00"}
    outcome, refusal = attempt(service.create, "fuzz_target", refused)
    assert outcome == "refused" and refusal.errors[0].path == "$.seen_at"
    assert dt.datetime.fromisoformat(record.data["seen_at"].replace("Z", "+00:00")).year == 5
