"""Whatever an author or a pack sends as a definition, the store refuses it by path.

Hypothesis throws random JSON and spoiled object definitions at
``definitions.service.save_draft`` and ``publish`` (with random migrations). Every answer
must be ``ValidationFailed`` naming JSON paths, or ``PublishRefused`` with its report when
stored records would break, never another exception; and a refusal leaves every table and
every index as it was. What is accepted is rolled back so examples stay apart.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, transaction
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from tessera.definitions import service
from tessera.definitions.errors import ValidationFailed
from tessera.definitions.models import Definition, Kind, Status
from tessera.definitions.safety import unstorable_text
from tessera.records import service as records

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    # One published object (and a record of it) per test, shared by the examples: each
    # example runs in a savepoint that is always rolled back.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BASE: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"x-type": "string", "maxLength": 40},
        "points": {"x-type": "integer", "minimum": 0, "x-index": True},
        "level": {"x-type": "enum", "enum": ["bronze", "gold"]},
        "tags": {"x-type": "list", "items": {"x-type": "string"}},
    },
}

TEXT = st.one_of(
    st.text(max_size=20),
    st.lists(
        st.sampled_from(['"', "'", "\\", "\x00", "\ud800", "客户", "{0}", "\n", "#", "$ref"]),
        max_size=4,
    ).map("".join),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**300, -(2**63) - 1, 1e308, -0.0, 1.0]),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has neither
    TEXT,
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=15,
)
X_TYPES = st.sampled_from(
    ["string", "text", "integer", "decimal", "money", "boolean", "date", "datetime", "enum",
     "multi_enum", "email", "phone", "url", "relation", "list", "nope", "String", ""]
)  # fmt: skip
PATTERNS = st.sampled_from(
    ["^[a-z]+$", "(a+)+$", "(?<=a)b", r"(a)\1", "[", "\\", "a{1000}{1000}", "x" * 1001, ""]
)
FIELD_VALUES = {
    "x-type": X_TYPES,
    "pattern": st.one_of(PATTERNS, SCALARS),
    "enum": st.one_of(st.lists(TEXT, max_size=4), ANY_JSON),
    "minimum": SCALARS,
    "maximum": SCALARS,
    "minLength": SCALARS,
    "maxLength": SCALARS,
    "minItems": SCALARS,
    "maxItems": SCALARS,
    "uniqueItems": SCALARS,
    "x-index": SCALARS,
    "x-unique": SCALARS,
    "x-relation": st.one_of(
        st.fixed_dictionaries({"object": st.sampled_from(["fuzz_def", "nowhere", "x y"])}),
        ANY_JSON,
    ),
    "x-label": st.one_of(st.fixed_dictionaries({"en": TEXT}), ANY_JSON),
    "$ref": st.sampled_from(["#", "http://127.0.0.1:9/x.json", "file:///etc/passwd"]),
    "default": ANY_JSON,
}
FIELD_NAMES = st.one_of(
    st.sampled_from(["name", "points", "level", "tags", "new_field", "Bad", "a-b", "$ref"]),
    TEXT,
)


@st.composite
def fields(draw, depth: int = 0) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(ANY_JSON)
    keys = draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), unique=True, max_size=5))
    field = {"x-type": draw(X_TYPES)} if draw(st.integers(0, 5)) else {}
    field.update({key: draw(FIELD_VALUES[key]) for key in keys})
    if depth < 2 and draw(st.integers(0, 4)) == 0:
        field["items"] = draw(fields(depth + 1))
    return field


@st.composite
def object_bodies(draw) -> Any:
    """The published body with fields added, replaced or removed, and top-level noise."""
    body = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        name = draw(FIELD_NAMES)
        if draw(st.integers(0, 3)) == 0:
            body["properties"].pop(name, None)
        else:
            body["properties"][name] = draw(fields())
    for key in draw(
        st.lists(
            st.sampled_from(
                ["required", "x-unique-together", "x-title-field", "type", "$schema", "$id",
                 "x-label", "properties", "extra"]
            ),
            unique=True,
            max_size=2,
        )
    ):  # fmt: skip
        body[key] = draw(
            st.one_of(ANY_JSON, st.lists(FIELD_NAMES, max_size=3), st.lists(st.lists(FIELD_NAMES)))
        )
    return body


BODIES = st.one_of(ANY_JSON, object_bodies(), object_bodies())
MIGRATIONS = st.one_of(
    st.none(),
    ANY_JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "rename": st.one_of(
                st.dictionaries(FIELD_NAMES, st.one_of(FIELD_NAMES, ANY_JSON), max_size=2),
                ANY_JSON,
            ),
            "convert": st.one_of(
                ANY_JSON,
                st.dictionaries(
                    FIELD_NAMES,
                    st.one_of(
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "on_error": st.sampled_from(["fail", "clear", "x"]),
                                "map": st.one_of(st.dictionaries(TEXT, SCALARS), ANY_JSON),
                            },
                        ),
                        ANY_JSON,
                    ),
                    max_size=2,
                ),
            ),
            "drop": st.one_of(st.lists(FIELD_NAMES, max_size=2), ANY_JSON),
            "extra": ANY_JSON,
        },
    ),
)
KINDS = st.one_of(st.sampled_from(Kind.values), st.sampled_from(["Object", "", "thing"]), TEXT)
KEYS = st.one_of(
    st.sampled_from(["fuzz_def", "fuzz-new", "new_1", "Fuzz", "-x", "a" * 65, "", "客户"]), TEXT
)


def snapshot() -> dict[str, Any]:
    """Every row of every Tessera table, and the indexes on the records table."""
    rows = {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in apps.get_models()
        if model.__module__.startswith("tessera.")
    }
    with connection.cursor() as cursor:
        rows["indexes"] = sorted(connection.introspection.get_constraints(cursor, "records_record"))
    return rows


def attempt(write, *args, **kwargs) -> str:
    """Run one call in a savepoint that is always rolled back; say how it answered."""
    before = snapshot()
    with transaction.atomic():
        try:
            write(*args, **kwargs)
            outcome = "accepted"
        except ValidationFailed as refusal:
            assert refusal.errors, "a refusal says why"
            for error in refusal.errors:
                assert error.path.startswith("$") and error.code and error.message, error
            outcome = "refused"
        except service.PublishRefused as refusal:
            assert refusal.report["breaking"] > 0
            outcome = "refused"
        if outcome == "refused":
            assert snapshot() == before, "a refusal changed stored rows or indexes"
        transaction.set_rollback(True)
    assert snapshot() == before
    return outcome


@pytest.fixture
def published(publish_object):
    """``object:fuzz_def`` published, with one stored record a change could break."""
    definition = publish_object("fuzz_def", BASE)
    records.create("fuzz_def", {"name": "kept", "points": 3, "level": "gold", "tags": ["a"]})
    return definition


@FUZZ
@given(kind=KINDS, key=KEYS, body=BODIES)
@example(kind="object", key="fuzz_def", body={"properties": {"a": {"x-type": "string"}}})
@example(kind="object", key="fuzz_def", body={"properties": {"a\x00": {"x-type": "string"}}})
@example(kind="object", key="fuzz_def", body={**BASE, "description": "nul \x00"})
@example(kind="object", key="fuzz_def", body={**BASE, "x-label": {"en": "\ud800"}})
@example(kind="segment", key="fuzz_def", body={"object": "fuzz_def", "condition": []})
def test_save_draft_refuses_bad_definitions_and_stores_nothing(published, kind, key, body):
    event(attempt(service.save_draft, kind, key, body))


@FUZZ
@given(body=BODIES, migration=MIGRATIONS)
@example(body=copy.deepcopy(BASE), migration={"drop": "points"})
@example(body=copy.deepcopy(BASE), migration={"rename": {"points": "score"}})
@example(body={"properties": {"name": {"x-type": "integer"}}}, migration=None)
def test_publish_refuses_bad_drafts_and_migrations(published, body, migration):
    """A draft that reached the table some other way is checked again when published."""
    # Only a draft the table can hold: the body column is NOT NULL, and jsonb refuses NUL.
    assume(body is not None and unstorable_text(body) is None)
    with transaction.atomic():
        Definition.objects.create(
            kind="object", key="fuzz_def", version=published.version + 1, body=body,
            status=Status.DRAFT,
        )  # fmt: skip
        event(attempt(service.publish, "object", "fuzz_def", migration=migration))
        transaction.set_rollback(True)


@FUZZ
@given(
    kind=st.one_of(st.sampled_from(Kind.values), TEXT),
    key=st.one_of(st.sampled_from(["fuzz_def", "nothing"]), TEXT),
)
def test_publishing_without_a_draft_is_refused(published, kind, key):
    assert attempt(service.publish, kind, key) == "refused"


@pytest.mark.parametrize(
    "key",
    [
        "\ud800",
        "a\x00b",  # SQLite takes it (and finds no draft); PostgreSQL refuses NUL
    ],
)
def test_publishing_a_key_the_database_cannot_hold_is_refused(published, key):
    assert attempt(service.publish, "object", key) == "refused"


@pytest.mark.parametrize(
    "migration",
    [{"rename": [1]}, {"convert": ["points"]}, {"drop": 5}, {"rename": {"points": ["x"]}}],
    ids=["rename-list", "convert-list", "drop-number", "rename-to-list"],
)
def test_a_migration_of_the_wrong_shape_is_refused(published, migration):
    with transaction.atomic():
        Definition.objects.create(
            kind="object", key="fuzz_def", version=published.version + 1,
            body=copy.deepcopy(BASE), status=Status.DRAFT,
        )  # fmt: skip
        assert attempt(service.publish, "object", "fuzz_def", migration=migration) == "refused"
        transaction.set_rollback(True)
