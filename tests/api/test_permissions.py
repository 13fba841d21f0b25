"""The permission matrix, over real HTTP: 3 roles x 2 objects x allowed and denied fields x
query, filter, order-by, aggregate, relation and mutation. A denied field is null with an
error or refused outright, and its values never appear anywhere in a response."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import requests

from tessera.records import service as records
from tests.api.conftest import API_ORDER, grant, make_token
from tests.conftest import CUSTOMER

SECRETS = {"secret-mail@example.com", "777777.77", "2031-02-03", "Secretville"}

ROLES: dict[str, dict[str, dict[str, Any]]] = {
    "sales": {
        "customer": {
            "can_update": True,
            "read_fields": ["name", "level", "points"],
            "write_fields": ["points"],
        },
        "order": {"read_fields": ["total", "status", "customer"]},
    },
    "support": {
        "customer": {"read_fields": ["name", "email"], "rows": "own"},
    },
    "analyst": {
        "customer": {
            "read_fields": ["city", "level", "total_spent", "name"],
            "condition": {"field": "city", "op": "eq", "value": "Hangzhou"},
        },
        "order": {"read_fields": ["*"], "can_create": True, "write_fields": ["total", "customer"]},
    },
}
# (role, object, field) → allowed?
FIELDS = {
    "customer": ["name", "email", "city", "points", "total_spent"],
    "order": ["total", "placed_at"],
}


def allowed(role: str, obj: str, field: str) -> bool:
    rights = ROLES[role].get(obj)
    return rights is not None and ("*" in rights["read_fields"] or field in rights["read_fields"])


@pytest.fixture
def matrix(live_server, publish_object, django_user_model):
    publish_object("customer", CUSTOMER)
    order_body = copy.deepcopy(API_ORDER)
    publish_object("order", order_body)
    users = {}
    for role, objects in ROLES.items():
        user = django_user_model.objects.create_user(role, f"{role}@example.com", "pw-1234567")
        for obj, rights in objects.items():
            user.groups.add(grant(role, obj, **rights))
        users[role] = user
    hidden = records.create(
        "customer",
        {
            "name": "Hidden",
            "email": "secret-mail@example.com",
            "city": "Secretville",
            "points": 1,
            "total_spent": 777777.77,
        },
    )
    mine = records.create(
        "customer",
        {"name": "Mine", "email": "mine@example.com", "city": "Hangzhou", "points": 5},
        actor=users["support"],
    )
    records.create(
        "order", {"customer": hidden.pk, "total": 3, "placed_at": "2031-02-03T00:00:00Z"}
    )
    records.create("order", {"customer": mine.pk, "total": 4, "placed_at": "2024-01-01T00:00:00Z"})
    tokens = {role: make_token(user) for role, user in users.items()}

    def post(role: str, query: str, variables: dict | None = None) -> tuple[dict, str]:
        response = requests.post(
            f"{live_server.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {tokens[role]}"},
            timeout=30,
        )
        assert response.status_code in (200, 400), response.text
        return response.json(), response.text

    return post, {"hidden": hidden, "mine": mine}


def codes(out: dict) -> set[str]:
    return {e["extensions"]["code"] for e in out.get("errors", [])}


def no_secret(text: str, role: str, obj: str) -> None:
    for secret in SECRETS:
        field = {
            "secret-mail@example.com": "email",
            "777777.77": "total_spent",
            "2031-02-03": "placed_at",
            "Secretville": "city",
        }[secret]
        owner = "order" if field == "placed_at" else "customer"
        outside_rows = owner == "customer" and role in ("support", "analyst")
        if not allowed(role, owner, field) or outside_rows:
            # support sees only its own customers, analyst only Hangzhou's: not Hidden
            assert secret not in text, (role, obj, secret)


@pytest.mark.parametrize("role", list(ROLES))
def test_matrix(matrix, role):
    post, _rows = matrix
    many = {"customer": "customers", "order": "orders"}
    for obj, fields in FIELDS.items():
        object_ok = obj in ROLES[role]
        for field in fields:
            ok = allowed(role, obj, field)
            where = (role, obj, field)
            # query
            out, text = post(role, f"{{ {many[obj]}(first: 10) {{ nodes {{ id {field} }} }} }}")
            no_secret(text, role, obj)
            if not object_ok:
                assert "permission_denied" in codes(out) and out["data"] is None, where
            elif ok:
                assert "errors" not in out, (where, out)
            else:
                assert "permission_denied" in codes(out), where
                assert all(n[field] is None for n in out["data"][many[obj]]["nodes"]), where
            # filter
            op = {"placed_at": '{isEmpty: false}', "points": "{gte: 0}", "total": "{gte: 0}",
                  "total_spent": "{gte: 0}"}.get(field, '{isEmpty: false}')  # fmt: skip
            out, text = post(role, f"{{ {many[obj]}(filter: {{{field}: {op}}}) {{ totalCount }} }}")
            no_secret(text, role, obj)
            assert ("permission_denied" in codes(out)) == (not ok), (where, out)
            # order by
            out, text = post(
                role, f"{{ {many[obj]}(orderBy: [{field}_DESC]) {{ nodes {{ id }} }} }}"
            )
            assert ("permission_denied" in codes(out)) == (not ok), (where, out)
            # aggregate: grouped by the field
            out, text = post(role, f"{{ {obj}Aggregate(groupBy: {field}) {{ key count }} }}")
            no_secret(text, role, obj)
            assert ("permission_denied" in codes(out)) == (not ok), (where, out)
        # a sum of a number field the role cannot read is null with an error
        if obj == "customer" and object_ok:
            out, text = post(role, "{ customerAggregate { count sum { total_spent points } } }")
            no_secret(text, role, obj)
            expect = not (allowed(role, obj, "total_spent") and allowed(role, obj, "points"))
            assert ("permission_denied" in codes(out)) == expect, (role, out)


def test_rows_own_and_condition_rules(matrix):
    post, rows = matrix
    out, _ = post("support", "{ customers { nodes { name } } }")
    assert out["data"]["customers"]["nodes"] == [{"name": "Mine"}]
    out, _ = post("analyst", "{ customers { nodes { name } } }")
    assert out["data"]["customers"]["nodes"] == [{"name": "Mine"}]
    out, _ = post("sales", "{ customers { totalCount } }")
    assert out["data"]["customers"]["totalCount"] == 2
    # a record outside the rows is not found, as if absent
    out, _ = post("support", f'{{ customer(id: "{rows["hidden"].pk}") {{ name }} }}')
    assert out["data"]["customer"] is None


def test_relations_do_not_leak(matrix):
    post, _rows = matrix
    # analyst reads every order, but an order's customer outside its rows is null
    out, text = post("analyst", "{ orders { nodes { total customer { name city } } } }")
    customers = [n["customer"] for n in out["data"]["orders"]["nodes"]]
    assert sorted(customers, key=json.dumps) == sorted(
        [None, {"name": "Mine", "city": "Hangzhou"}], key=json.dumps
    )
    assert "Secretville" not in text
    # nor can a filter through the relation tell anything about customers outside its rows
    out, _ = post(
        "analyst", '{ orders(filter: {customer: {name: {eq: "Hidden"}}}) { totalCount } }'
    )
    assert "permission_denied" in codes(out)
    assert "beyond your rows" in out["errors"][0]["message"]
    out, _ = post("sales", '{ orders(filter: {customer: {name: {eq: "Hidden"}}}) { totalCount } }')
    assert out["data"]["orders"]["totalCount"] == 1
    # sales may not read placed_at: not through a relation filter from customers either
    out, _ = post(
        "sales",
        '{ customers(filter: {orders: {where: {placed_at: {after: "2030-01-01"}}}}) '
        "{ totalCount } }",
    )
    assert "permission_denied" in codes(out)
    # support has no right on orders: the reverse relation is refused
    out, _ = post("support", "{ customers { nodes { name orders { totalCount } } } }")
    assert "permission_denied" in codes(out)
    # a raw condition cannot reach a denied field either
    out, _ = post(
        "sales",
        '{ customers(condition: {field: "email", op: "contains", value: "secret"}) '
        "{ totalCount } }",
    )
    assert "permission_denied" in codes(out) and "errors" in out


def test_mutations_write_only_granted_fields(matrix):
    post, rows = matrix
    hidden = rows["hidden"]
    update = """mutation($id: ID!, $input: CustomerInput!) {
        updateCustomer(id: $id, version: 1, input: $input) {
          record { points } errors { path code } } }"""
    out, _ = post("sales", update, {"id": hidden.pk, "input": {"points": 9}})
    assert out["data"]["updateCustomer"] == {"record": {"points": 9}, "errors": []}
    out, _text = post("sales", update, {"id": hidden.pk, "input": {"email": "x@example.com"}})
    assert out["data"]["updateCustomer"]["errors"] == [
        {"path": "$.email", "code": "permission_denied"}
    ]
    out, _ = post("support", update, {"id": rows["mine"].pk, "input": {"points": 9}})
    assert "permission_denied" in codes(out)
    create = """mutation($input: OrderInput!) { createOrder(input: $input) {
        record { total } errors { path code } } }"""
    out, _ = post("analyst", create, {"input": {"customer": rows["mine"].pk, "total": 8}})
    assert out["data"]["createOrder"] == {"record": {"total": 8}, "errors": []}
    out, _ = post(
        "analyst", create, {"input": {"customer": rows["mine"].pk, "total": 8, "status": "paid"}}
    )
    assert out["data"]["createOrder"]["errors"] == [
        {"path": "$.status", "code": "permission_denied"}
    ]
    out, _ = post("sales", create, {"input": {"customer": rows["mine"].pk, "total": 8}})
    assert "permission_denied" in codes(out)
