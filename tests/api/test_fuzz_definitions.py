"""Hypothesis over object definitions: whatever a business user may publish, the schema
builds with every published object in it (none falls out over a name)."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.api.schema import build
from tessera.conditions import objects
from tessera.definitions import cache
from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed

NAMES = st.one_of(
    st.sampled_from(
        ["id", "version", "all", "any", "not", "mro", "timeline", "orders", "created_at", "x"]
    ),
    st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True),
)
OPTIONS = st.lists(
    st.one_of(
        st.text(min_size=1, max_size=8),
        st.sampled_from(["true", "null", "mro", "_ignore_", "__init__", "V0", "a b"]),
    ),
    min_size=1,
    max_size=4,
    unique=True,
)
SIMPLE = ["string", "text", "integer", "decimal", "money", "boolean", "date", "datetime",
          "email", "phone", "url"]  # fmt: skip


@st.composite
def prop(draw):
    kind = draw(st.sampled_from([*SIMPLE, "enum", "multi_enum", "list", "relation"]))
    if kind in ("enum", "multi_enum"):
        return {"x-type": kind, "enum": draw(OPTIONS)}
    if kind == "list":
        return {"x-type": "list", "items": {"x-type": draw(st.sampled_from(SIMPLE))}}
    if kind == "relation":
        related_name = draw(st.one_of(st.none(), NAMES))
        relation = {"object": draw(st.sampled_from(["thing", "other-thing"]))}
        if related_name:
            relation["related_name"] = related_name
        return {"x-type": "relation", "x-relation": relation}
    return {"x-type": kind}


BODY = st.dictionaries(NAMES, prop(), min_size=1, max_size=6).map(
    lambda props: {"type": "object", "properties": props}
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=BODY, second=BODY)
def test_every_published_object_is_in_the_schema(db, first, second):
    for item in (cache._published, objects._cache, build._schemas):
        item.clear()
    published = set()
    base = {"type": "object", "properties": {"name": {"x-type": "string"}}}
    for key, body in (
        ("thing", base),
        ("other-thing", base),
        ("thing", first),
        ("other-thing", second),
    ):
        try:
            definitions.save_and_publish("object", key, copy.deepcopy(body))
        except (ValidationFailed, definitions.PublishRefused):
            continue
        published.add(key)
    schema = build.current_schema().graphql_schema
    names = {t for t in schema.type_map}
    for key, type_name in (("thing", "Thing"), ("other-thing", "OtherThing")):
        if key in published:
            assert type_name in names, key
    from graphql import print_schema

    assert "type Query" in print_schema(schema)
