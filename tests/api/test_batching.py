"""No N+1: a nested query costs the same number of SQL queries for 2 customers or 40."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tessera.records import service as records
from tests.api.conftest import grant, make_token

NESTED = """query($first: Int!) { customers(first: $first, orderBy: [name_ASC]) {
    edges { node { id name level points
      orders(first: 3, orderBy: [placed_at_DESC]) { totalCount
        nodes { total placed_at customer { name orders(first: 1) { totalCount } } } }
      timeline(first: 2) { kind type } } } } }"""


def shop_of(n: int) -> None:
    for i in range(n):
        customer = records.create("customer", {"name": f"c{i:03}", "level": "gold", "points": i})
        for j in range(i % 4):
            records.create(
                "order",
                {
                    "customer": customer.pk,
                    "total": j + 1,
                    "placed_at": f"2024-01-0{j + 1}T00:00:00Z",
                },
            )


def queries_for(gql, token: str, first: int) -> tuple[int, dict]:
    gql(NESTED, {"first": 1}, token=token)  # the schema of this revision is built and cached
    with CaptureQueriesContext(connection) as captured:
        out = gql(NESTED, {"first": first}, token=token)
    assert "errors" not in out, out
    return len(captured), out


def test_the_number_of_queries_stays_the_same_as_the_page_grows(shop, gql, admin_token):
    shop_of(40)
    small, _out_small = queries_for(gql, admin_token, 2)
    large, out_large = queries_for(gql, admin_token, 40)
    assert len(out_large["data"]["customers"]["edges"]) == 40
    assert small == large
    # token, revision, customers, orders, their customers, those customers' orders, changes,
    # events (+ one look for the flow-run table)
    assert large <= 9


def test_a_person_with_a_role_pays_one_more_query_not_one_per_record(shop, gql, django_user_model):
    shop_of(20)
    user = django_user_model.objects.create_user("sales", password="pw-1234567")
    user.groups.add(grant("sales", "customer", read_fields=["*"], rows="all"))
    user.groups.add(grant("sales", "order", read_fields=["*"], rows="all"))
    token = make_token(user)
    small, _ = queries_for(gql, token, 2)
    large, _ = queries_for(gql, token, 20)
    assert small == large
