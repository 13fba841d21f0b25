"""Mutations: records (errors by path, optimistic locking), definitions, segment previews."""

from __future__ import annotations

import pytest

from tessera.records.models import Record, RecordChange

CREATE = """mutation($input: CustomerInput!) { createCustomer(input: $input) {
    record { id version name level total_spent } errors { path code message } } }"""
UPDATE = """mutation($id: ID!, $version: Int!, $input: CustomerInput!) {
    updateCustomer(id: $id, version: $version, input: $input) {
      record { id version name points } errors { path code message } } }"""
DELETE = """mutation($id: ID!, $version: Int!) { deleteCustomer(id: $id, version: $version) {
    ok errors { path code } } }"""


def test_create_returns_the_record_or_errors_by_path(shop, gql, admin_token):
    out = gql(
        CREATE,
        {"input": {"name": "Ana", "level": "gold", "total_spent": "12.50"}},
        token=admin_token,
    )
    created = out["data"]["createCustomer"]
    assert created["errors"] == []
    assert created["record"]["name"] == "Ana" and created["record"]["total_spent"] == 12.5
    bad = gql(CREATE, {"input": {"email": "not-an-email", "points": -3}}, token=admin_token)
    payload = bad["data"]["createCustomer"]
    assert payload["record"] is None
    paths = {e["path"]: e["code"] for e in payload["errors"]}
    assert set(paths) == {"$.name", "$.email", "$.points"}
    assert Record.objects.filter(object_key="customer").count() == 1


def test_a_value_of_the_wrong_graphql_type_is_a_400_not_a_500(shop, gql, admin_token):
    out = gql(CREATE, {"input": {"name": "A", "level": "diamond"}}, token=admin_token, status=400)
    assert "level" in out["errors"][0]["message"]


def test_update_needs_the_version_and_delete_is_protected_by_relations(shop, gql, admin_token):
    ana = gql(CREATE, {"input": {"name": "Ana"}}, token=admin_token)["data"]["createCustomer"]
    pk = ana["record"]["id"]
    moved = gql(UPDATE, {"id": pk, "version": 1, "input": {"points": 10}}, token=admin_token)
    assert moved["data"]["updateCustomer"]["record"] == {
        "id": pk,
        "version": 2,
        "name": "Ana",
        "points": 10,
    }
    stale = gql(UPDATE, {"id": pk, "version": 1, "input": {"points": 11}}, token=admin_token)
    assert stale["data"]["updateCustomer"]["errors"][0]["code"] == "conflict"
    cleared = gql(UPDATE, {"id": pk, "version": 2, "input": {"points": None}}, token=admin_token)
    assert cleared["data"]["updateCustomer"]["record"]["points"] is None
    missing = gql(UPDATE, {"id": "424242", "version": 1, "input": {}}, token=admin_token)
    assert missing["data"]["updateCustomer"]["errors"][0]["code"] == "not_found"

    order = gql(
        """mutation($c: ID!) { createOrder(input: {customer: $c, total: 5}) {
             record { id customer { name } } errors { path code } } }""",
        {"c": pk},
        token=admin_token,
    )["data"]["createOrder"]
    assert order["record"]["customer"] == {"name": "Ana"}
    protected = gql(DELETE, {"id": pk, "version": 3}, token=admin_token)
    assert protected["data"]["deleteCustomer"] == {
        "ok": False,
        "errors": [{"path": "$", "code": "protected"}],
    }
    dangling = gql(
        "mutation { createOrder(input: {customer: 999999, total: 1}) { errors { path code } } }",
        token=admin_token,
    )
    assert dangling["data"]["createOrder"]["errors"] == [{"path": "$.customer", "code": "relation"}]
    order_pk = order["record"]["id"]
    assert gql(
        "mutation($id: ID!) { deleteOrder(id: $id, version: 1) { ok } }",
        {"id": order_pk},
        token=admin_token,
    )["data"]["deleteOrder"]["ok"]
    gone = gql(DELETE, {"id": pk, "version": 3}, token=admin_token)
    assert gone["data"]["deleteCustomer"] == {"ok": True, "errors": []}
    assert RecordChange.objects.filter(record_id=int(pk), action="delete").exists()


DRAFT = """mutation($body: JSON!) { saveDefinitionDraft(kind: OBJECT, key: "ticket", body: $body) {
    definition { key version status } errors { path code } } }"""


def test_definitions_save_validate_diff_publish(shop, gql, admin_token):
    body = {"type": "object", "properties": {"subject": {"x-type": "string"}}}
    bad = gql(DRAFT, {"body": {"properties": {"x": {"x-type": "nope"}}}}, token=admin_token)
    assert bad["data"]["saveDefinitionDraft"]["errors"][0]["path"] == "$.properties.x['x-type']"
    saved = gql(DRAFT, {"body": body}, token=admin_token)["data"]["saveDefinitionDraft"]
    assert saved["definition"] == {"key": "ticket", "version": 1, "status": "draft"}
    valid = gql(
        'mutation($b: JSON!) { validateDefinition(kind: OBJECT, key: "ticket", body: $b) '
        "{ ok errors { path } } }",
        {"b": body},
        token=admin_token,
    )
    assert valid["data"]["validateDefinition"] == {"ok": True, "errors": []}
    diff = gql('{ definitionDiff(kind: OBJECT, key: "ticket") { path op } }', token=admin_token)
    assert {"path": "$.properties", "op": "added"} in diff["data"]["definitionDiff"]
    published = gql(
        'mutation { publishDefinition(kind: OBJECT, key: "ticket") '
        "{ definition { status } errors { code } } }",
        token=admin_token,
    )
    assert published["data"]["publishDefinition"]["definition"] == {"status": "published"}
    # the next request sees the new type
    created = gql(
        'mutation { createTicket(input: {subject: "Broken lid"}) '
        "{ record { subject } errors { path } } }",
        token=admin_token,
    )
    assert created["data"]["createTicket"]["record"] == {"subject": "Broken lid"}
    nothing = gql(
        'mutation { publishDefinition(kind: OBJECT, key: "ticket") { errors { code } } }',
        token=admin_token,
    )
    assert nothing["data"]["publishDefinition"]["errors"] == [{"code": "no_draft"}]


def test_segment_preview_counts_and_reports_bad_conditions(shop, gql, admin_token):
    for points in (5, 50, 500):
        gql(CREATE, {"input": {"name": f"P{points}", "points": points}}, token=admin_token)
    query = """query($c: JSON!) { segmentPreview(object: "customer", condition: $c, sample: 5) {
        count sample errors { path code } } }"""
    out = gql(query, {"c": {"field": "points", "op": "gte", "value": 50}}, token=admin_token)
    assert out["data"]["segmentPreview"]["count"] == 2
    assert len(out["data"]["segmentPreview"]["sample"]) == 2
    bad = gql(query, {"c": {"field": "points", "op": "gte", "value": "many"}}, token=admin_token)
    assert bad["data"]["segmentPreview"]["errors"] == [
        {"path": "$.condition.value", "code": "invalid_value"}
    ]


@pytest.mark.parametrize("scope_missing", ["write", "definitions"])
def test_token_scopes_narrow_what_a_token_may_do(shop, gql, admin, scope_missing):
    from tests.api.conftest import make_token

    token = make_token(admin, [s for s in ("read", "write", "definitions") if s != scope_missing])
    if scope_missing == "write":
        out = gql(CREATE, {"input": {"name": "X"}}, token=token)
        assert out["data"] is None or out["data"]["createCustomer"] is None
    else:
        out = gql(DRAFT, {"body": {"properties": {}}}, token=token)
        assert out["data"] is None or out["data"]["saveDefinitionDraft"] is None
    assert out["errors"][0]["extensions"]["code"] == "scope"
