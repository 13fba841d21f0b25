"""Hypothesis against the generated schema: inputs and filters drawn from its own types.

Whatever a client sends (mutation inputs, filters, raw conditions), the answer is data or
errors with codes: never a 500, never an ``internal`` error, and a refused write leaves
the stored rows exactly as they were.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.api.schema.build import current_schema
from tessera.records import service as records
from tessera.records.models import Record, RecordChange

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", "\x00", "\ud800", "Hangzhou", "2024-01-01", "P7D", "today", "9" * 40]),
)
NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, -1, 2**53, 1e300]),
)
JSON_LEAF = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)


def scalar(name: str) -> st.SearchStrategy:
    if name in ("Int", "BigInt"):
        return st.one_of(st.integers(min_value=-(2**31), max_value=2**31 - 1), NUMBER)
    if name == "Decimal":
        return st.one_of(NUMBER, TEXT)
    if name == "Boolean":
        return st.one_of(st.booleans(), JSON_LEAF)
    if name in ("Date", "DateTime"):
        return st.one_of(
            st.dates().map(str),
            st.datetimes().map(lambda d: d.isoformat() + "Z"),
            TEXT,
        )
    if name == "ID":
        return st.one_of(st.integers(min_value=-5, max_value=10**20).map(str), TEXT)
    if name == "JSON":
        return JSON
    return TEXT


def value_of(kind: Any, depth: int = 0) -> st.SearchStrategy:
    if isinstance(kind, GraphQLNonNull):
        return value_of(kind.of_type, depth)
    if isinstance(kind, GraphQLList):
        return st.lists(value_of(kind.of_type, depth + 1), max_size=3)
    if isinstance(kind, GraphQLEnumType):
        return st.one_of(st.sampled_from(list(kind.values)), TEXT)
    if isinstance(kind, GraphQLScalarType):
        return st.one_of(st.none(), scalar(kind.name))
    if isinstance(kind, GraphQLInputObjectType):
        if depth > 3:
            return st.just({})
        fields = {name: value_of(field.type, depth + 1) for name, field in kind.fields.items()}
        return st.fixed_dictionaries({}, optional=fields)
    return JSON


def post(client, token: str, query: str, variables: dict) -> dict:
    response = client.post(
        "/graphql",
        {"query": query, "variables": variables},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code in (200, 400), response.content
    body = response.json()
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
    assert "internal" not in codes, body
    return body


def stored() -> list[tuple]:
    return list(Record.objects.order_by("pk").values_list("pk", "version", "data"))


@pytest.fixture
def schema_types(shop):
    records.create("customer", {"name": "Ana", "city": "Hangzhou", "points": 3})
    schema = current_schema().graphql_schema
    return {
        "customer_input": schema.get_type("CustomerInput"),
        "order_input": schema.get_type("OrderInput"),
        "customer_filter": schema.get_type("CustomerFilter"),
        "order_filter": schema.get_type("OrderFilter"),
    }


CREATE = """mutation($input: CustomerInput!) { createCustomer(input: $input) {
    record { id name points total_spent level birthday tags } errors { path code } } }"""
UPDATE = """mutation($id: ID!, $version: Int!, $input: CustomerInput!) {
    updateCustomer(id: $id, version: $version, input: $input) { record { id } errors { path } } }"""


def test_mutation_inputs_from_the_schema(schema_types, client, admin_token):
    strategy = value_of(schema_types["customer_input"])
    target = Record.objects.get(object_key="customer")

    @FUZZ
    @given(data=strategy, update=st.booleans())
    def check(data, update):
        before, changes = stored(), RecordChange.objects.count()
        if update:
            body = post(client, admin_token, UPDATE, {"id": target.pk, "version": 1, "input": data})
            payload = (body.get("data") or {}).get("updateCustomer")
        else:
            body = post(client, admin_token, CREATE, {"input": data})
            payload = (body.get("data") or {}).get("createCustomer")
        if payload is None or payload["errors"]:
            assert stored() == before and RecordChange.objects.count() == changes
        elif update:
            # put it back so the next example starts from version 1 again
            Record.objects.filter(pk=target.pk).update(version=1, data=before[0][2])
        else:
            Record.objects.filter(pk=int(payload["record"]["id"])).delete()

    check()


@pytest.mark.parametrize("which", ["customer", "order"])
def test_filters_from_the_schema(schema_types, client, admin_token, which):
    strategy = value_of(schema_types[f"{which}_filter"])
    query = (
        f"query($f: {which.capitalize()}Filter) {{ {which}s(filter: $f) {{ totalCount }} "
        f"{which}Aggregate(filter: $f) {{ count }} }}"
    )

    @FUZZ
    @given(given_filter=strategy)
    def check(given_filter):
        post(client, admin_token, query, {"f": given_filter})

    check()


def test_raw_conditions_and_segment_previews(schema_types, client, admin_token):
    leaf = st.fixed_dictionaries(
        {"field": st.sampled_from(["name", "points", "birthday", "tags", "level", "nope"])},
        optional={
            "op": st.sampled_from(["eq", "gte", "in", "has_any", "within", "x"]),
            "value": JSON,
        },
    )
    tree = st.recursive(
        st.one_of(leaf, JSON),
        lambda inner: st.one_of(
            st.fixed_dictionaries({"all": st.lists(inner, max_size=3)}),
            st.fixed_dictionaries({"any": st.lists(inner, max_size=3)}),
            st.fixed_dictionaries({"not": inner}),
        ),
        max_leaves=6,
    )
    query = """query($c: JSON) { customers(condition: $c) { totalCount }
        segmentPreview(object: "customer", condition: $c) { count errors { path } } }"""

    @FUZZ
    @given(condition=tree)
    def check(condition):
        post(client, admin_token, query, {"c": condition})

    check()


@pytest.mark.parametrize(
    "query",
    [
        'query { customers(filter: {name: {eq: "a\\u0000b"}}) { totalCount } }',
        'query { customers(segment: "x\\u0000") { totalCount } }',
        'query { definition(kind: OBJECT, key: "\\u0000") { key } }',
        'mutation { createAccessToken(name: "\\u0000") { token } }',
        'mutation { startWorkflow(workflow: "w\\u0000", recordId: "1") { errors { code } } }',
    ],
)
def test_text_no_database_can_store_is_refused_up_front(shop, gql, admin_token, query):
    out = gql(query, token=admin_token, status=400)
    assert out["errors"][0]["extensions"]["code"] == "invalid_text"


def test_the_same_through_variables_and_json_keys(shop, gql, admin_token):
    query = "query($c: JSON) { customers(condition: $c) { totalCount } }"
    for condition in [{"field": "name", "op": "eq", "value": "\x00"}, {"\ud800": 1}]:
        out = gql(query, {"c": condition}, token=admin_token, status=400)
        assert out["errors"][0]["extensions"]["code"] == "invalid_text"
    fine = gql(query, {"c": {"field": "points", "op": "gte", "value": 1e300}}, token=admin_token)
    assert fine["errors"][0]["extensions"]["code"] == "invalid_filter"
    far = gql(
        query,
        {"c": {"field": "birthday", "op": "within", "value": {"last": "P99999999Y"}}},
        token=admin_token,
    )
    assert far["errors"][0]["extensions"]["code"] in ("invalid_filter",), far
