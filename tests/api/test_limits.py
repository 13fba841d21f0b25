"""Limits (OWASP's GraphQL cheat sheet): abusive requests are refused before anything runs."""

from __future__ import annotations

import graphene
import pytest
from django.test import override_settings

from tessera.api.extensions import SchemaExtension, extensions
from tessera.api.schema import build

LIMITS = {
    "depth": 10,
    "aliases": 50,
    "cost": 50_000,
    "batch": 10,
    "body_bytes": 100_000,
    "seconds": 10.0,
    "tokens": 5_000,
    "introspection": False,
    "graphiql": False,
}


def code(out: dict) -> str:
    return out["errors"][0]["extensions"]["code"]


def nested(levels: int) -> str:
    inner = "name"
    for _ in range(levels):
        inner = f"orders(first: 1) {{ nodes {{ customer {{ {inner} }} }} }}"
    return f"{{ customers(first: 1) {{ nodes {{ {inner} }} }} }}"


def test_depth_is_at_most_ten(shop, gql, admin_token):
    assert "errors" not in gql(nested(2), token=admin_token)  # 2 + 3 * 2 = 8 levels
    out = gql(nested(3), token=admin_token, status=400)
    assert code(out) == "too_deep"


def test_aliases_and_pages_and_cost(shop, gql, admin_token):
    aliases = " ".join(f"a{i}: customers(first: 1) {{ totalCount }}" for i in range(51))
    assert code(gql(f"{{ {aliases} }}", token=admin_token, status=400)) == "too_many_aliases"
    assert code(gql("{ customers(first: 101) { totalCount } }", token=admin_token, status=400)) == (
        "page_size"
    )
    out = gql(
        "query($n: Int) { customers(first: $n) { totalCount } }",
        {"n": 500},
        token=admin_token,
        status=400,
    )
    assert code(out) == "page_size"
    costly = "{ customers(first: 100) { nodes { orders(first: 100) { nodes { total customer { name"
    costly += " orders(first: 100) { totalCount } } } } } } }"
    assert code(gql(costly, token=admin_token, status=400)) == "too_costly"


def test_batches_hold_at_most_ten_operations(shop, client, admin_token):
    one = {"query": "{ me { username } }"}
    headers = {"HTTP_AUTHORIZATION": f"Bearer {admin_token}"}
    ok = client.post("/graphql", [one] * 10, content_type="application/json", **headers)
    assert ok.status_code == 200 and len(ok.json()) == 10
    refused = client.post("/graphql", [one] * 11, content_type="application/json", **headers)
    assert refused.status_code == 400 and code(refused.json()) == "batch"


def test_body_size_and_bad_bodies(shop, client, admin_token):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {admin_token}"}
    big = {"query": "{ me { username } }" + " " * 100_001}
    response = client.post("/graphql", big, content_type="application/json", **headers)
    assert response.status_code == 413
    for body in [
        "not json",
        "[]",
        "42",
        '{"query": 5}',
        '{"query": "{ me { id } }", "variables": 3}',
    ]:
        response = client.post("/graphql", body, content_type="application/json", **headers)
        assert response.status_code == 400, body


def test_undefined_fragments_and_syntax_errors_are_400_not_500(shop, gql, admin_token):
    out = gql("{ customers { nodes { ...Missing } } }", token=admin_token, status=400)
    assert "Unknown fragment" in out["errors"][0]["message"]
    gql(
        "{ customers { nodes { ...A } } } fragment A on Customer { ...A }",
        token=admin_token,
        status=400,
    )
    gql("{ customers { ", token=admin_token, status=400)
    gql("{ nothingHere }", token=admin_token, status=400)


@override_settings(DEBUG=False, TESSERA_GRAPHQL=LIMITS)
def test_production_has_no_introspection_no_graphiql_no_stack_traces(
    shop, gql, client, admin_token
):
    out = gql("{ __schema { types { name } } }", token=admin_token, status=400)
    assert "introspection" in out["errors"][0]["message"]
    page = client.get("/graphql", HTTP_ACCEPT="text/html")
    assert page.status_code == 404

    class Broken(SchemaExtension):
        type = "broken"

        def query_fields(self, build_):
            def fail(root, info):
                raise RuntimeError("secret internals at /srv/app.py line 3")

            return {"broken": graphene.String(resolver=fail)}

    with extensions.register_temporarily(Broken()):
        build._schemas.clear()
        out = gql("{ broken }", token=admin_token)
    build._schemas.clear()
    assert out["errors"] == [
        {"message": "internal error", "extensions": {"code": "internal"}, "path": ["broken"]}
    ]


@override_settings(TESSERA_GRAPHQL={**LIMITS, "introspection": True, "graphiql": True})
def test_development_has_graphiql_and_introspection(shop, gql, client, admin_token):
    page = client.get("/graphql", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and b"graphiql" in page.content.lower()
    out = gql('{ __type(name: "Customer") { name } }', token=admin_token)
    assert out["data"]["__type"] == {"name": "Customer"}


@pytest.mark.parametrize("seconds", [0.0])
def test_a_request_past_its_time_is_stopped(shop, gql, admin_token, seconds):
    with override_settings(TESSERA_GRAPHQL={**LIMITS, "seconds": seconds}):
        out = gql("{ customers { totalCount } }", token=admin_token)
    assert code(out) == "timeout" and out["data"] is None


def test_a_batch_with_one_bad_operation_runs_none(shop, client, admin_token):
    from tessera.records.models import Record

    headers = {"HTTP_AUTHORIZATION": f"Bearer {admin_token}"}
    create = {"query": 'mutation { createCustomer(input: {name: "A"}) { errors { path } } }'}
    broken = {"query": "{ customers(first: 500) { totalCount } }"}
    refused = client.post("/graphql", [create, broken], content_type="application/json", **headers)
    assert refused.status_code == 400 and code(refused.json()) == "page_size"
    assert not Record.objects.filter(object_key="customer").exists()
    # variables that do not coerce fail their own operation only, inside a batch
    typed = {"query": "query($n: Int!) { customers(first: $n) { totalCount } }", "variables": {}}
    mixed = client.post("/graphql", [create, typed], content_type="application/json", **headers)
    assert mixed.status_code == 200
    first, second = mixed.json()
    assert first["data"]["createCustomer"]["errors"] == [] and second["data"] is None
