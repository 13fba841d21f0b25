"""Any JSON as an action, with any object: a list of FieldErrors at JSON paths, never a crash;
enqueue refuses the same input with ValidationFailed and writes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera import plugins
from tessera.actions import service as actions
from tessera.actions.builtins import BUILTIN_TYPES
from tessera.actions.models import OutboxEntry
from tessera.definitions.errors import ValidationFailed

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

TYPES = [t.type for t in BUILTIN_TYPES]
NAMES = st.sampled_from(
    [
        "field",
        "value",
        "tag",
        "object",
        "data",
        "to",
        "to_group",
        "subject",
        "body",
        "html",
        "from",
        "url",
        "method",
        "headers",
        "payload",
        "email",
        "tags",
        "points",
        "customer",
        "$record",
        "$now",
        "id",
        "ticket",
        "name",
        "",
        "a b",
        "\x00",
        "é",
    ]
)
TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "{{ record.name }}",
            "{% if %}",
            "{% for x in %}",
            "{{ x|nope }}",
            "a@b.co",
            "http://h/x",
            "https://",
            "customer",
            "ticket",
            "tags",
            "email",
            "POST",
            "GET",
        ]
    ),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES | TEXT, inner, max_size=4),
    max_leaves=12,
)
REFS = st.sampled_from(
    [{"$record": "name"}, {"$record": "id"}, {"$now": True}, {"$record": "nope"}, {"$now": 1}]
)
VALUES = st.one_of(JSON, REFS, st.sampled_from(["gold", "iron", 5, -1, ["a", "b"], "x@y.co"]))
CUSTOMER_FIELDS = st.sampled_from(
    ["name", "email", "city", "level", "points", "tags", "vip", "cc", "home_city", "nope"]
)
# Shaped like real actions, so that many pass the schema and reach the semantic checks and
# the records service.
SHAPED = st.one_of(
    st.builds(
        lambda f, v: {"type": "set_field", "params": {"field": f, "value": v}},
        CUSTOMER_FIELDS,
        VALUES,
    ),
    st.builds(
        lambda t, f, k: {"type": k, "params": {"tag": t, **({"field": f} if f else {})}},
        TEXT,
        st.sampled_from([None, "tags", "cc", "city"]),
        st.sampled_from(["add_tag", "remove_tag"]),
    ),
    st.builds(
        lambda d: {"type": "create_record", "params": {"object": "ticket", "data": d}},
        st.dictionaries(
            st.sampled_from(
                ["title", "customer", "contact", "priority", "opened_at", "notes", "sky"]
            ),
            VALUES,
            max_size=5,
        ),
    ),
    st.builds(
        lambda to, sub, body: {
            "type": "send_email",
            "params": {"to": to, "subject": sub, "body": body},
        },
        st.sampled_from(["email", "cc", "city", "a@b.co", ["email", "x@"]]),
        TEXT,
        TEXT,
    ),
    st.builds(
        lambda u, p: {"type": "webhook", "params": {"url": u, "payload": p}},
        st.sampled_from(["http://127.0.0.1:9/x", "https://", "ftp://h/x"]),
        VALUES,
    ),
)
ACTIONS = st.one_of(
    SHAPED,
    JSON,
    st.fixed_dictionaries(
        {"type": st.sampled_from(TYPES) | TEXT},
        optional={"params": st.dictionaries(NAMES, JSON, max_size=6) | JSON},
    ),
)


@pytest.fixture
def fuzz_li(li):
    return li


@FUZZ
@given(action=ACTIONS, object_key=st.sampled_from(["customer", "ticket", None, "nope"]))
def test_check_answers_any_json_with_paths(fuzz_li, action: Any, object_key: str | None):
    errors = actions.check(action, object_key=object_key, path="$.on_enter[0]")
    for error in errors:
        assert error.path.startswith("$.on_enter[0]") and error.code and error.message
    if errors:
        with pytest.raises(ValidationFailed):
            actions.enqueue("fuzz:1", action, object_key=object_key, record_id=fuzz_li.pk)
        assert not OutboxEntry.objects.filter(key="fuzz:1").exists()
    elif plugins.actions.get(action["type"]).transactional:
        # a valid database action performs, or ends failed/skipped with its reason; never raises
        with transaction.atomic():
            entry = actions.enqueue("fuzz:2", action, object_key=object_key, record_id=fuzz_li.pk)
            assert entry.status in ("sent", "failed", "skipped"), entry.last_error
            transaction.set_rollback(True)
