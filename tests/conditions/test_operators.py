"""Every operator on every field kind it applies to, through both faces, on a small shop."""

from __future__ import annotations

import pytest

from tessera.conditions.compiler import matching
from tessera.conditions.evaluate import evaluate
from tessera.conditions.tree import parse
from tessera.records import service
from tessera.records.models import Record

pytestmark = pytest.mark.django_db

PEOPLE = {
    "ann": {
        "name": "Ann",
        "city": "Hangzhou",
        "points": 5,
        "total_spent": 120.5,
        "vip": True,
        "birthday": "1990-06-18",
        "tags": ["beauty", "vip"],
        "email": "ann@example.com",
    },
    "bo": {
        "name": "Bo",
        "city": "Beijing",
        "points": 0,
        "total_spent": 0,
        "vip": False,
        "birthday": "1985-12-31",
        "tags": [],
    },
    "cy": {"name": "Cy", "city": "", "points": 12, "birthday": "2000-06-14", "tags": ["toys"]},
    "di": {"name": "Di Hangzhou", "total_spent": 99.99},
}


@pytest.fixture
def people(shop):
    return {key: service.create("customer", data).pk for key, data in PEOPLE.items()}


def select(tree, clock, object_key="customer"):
    """Both faces; they must agree, and the names of the selected people are returned."""
    node = parse(tree, object_key)
    by_sql = set(matching(node, object_key, clock=clock).values_list("pk", flat=True))
    records = Record.objects.filter(object_key=object_key)
    by_python = {r.pk for r in records if evaluate(node, r, clock=clock)}
    assert by_sql == by_python, tree
    names = {r.pk: r.data.get("name", f"#{r.pk}") for r in records}
    return {names[pk].split()[0].lower() for pk in by_sql}


CASES = [
    # text
    ({"field": "city", "op": "eq", "value": "Hangzhou"}, {"ann"}),
    ({"field": "city", "op": "ne", "value": "Hangzhou"}, {"bo", "cy"}),
    ({"field": "city", "op": "in", "value": ["Beijing", "Xi'an"]}, {"bo"}),
    ({"field": "city", "op": "not_in", "value": ["Beijing"]}, {"ann", "cy"}),
    ({"field": "name", "op": "contains", "value": "Hang"}, {"di"}),
    ({"field": "name", "op": "contains", "value": "hang"}, set()),  # case-sensitive
    ({"field": "name", "op": "starts_with", "value": "C"}, {"cy"}),
    ({"field": "name", "op": "ends_with", "value": "zhou"}, {"di"}),
    ({"field": "city", "op": "is_empty"}, {"cy", "di"}),
    ({"field": "city", "op": "is_set"}, {"ann", "bo"}),
    ({"field": "email", "op": "eq", "value": "ann@example.com"}, {"ann"}),
    # number (integer and money)
    ({"field": "points", "op": "eq", "value": 5}, {"ann"}),
    ({"field": "points", "op": "ne", "value": 5}, {"bo", "cy"}),
    ({"field": "points", "op": "lt", "value": 5}, {"bo"}),
    ({"field": "points", "op": "lte", "value": 5}, {"ann", "bo"}),
    ({"field": "points", "op": "gt", "value": 5}, {"cy"}),
    ({"field": "points", "op": "gte", "value": 0}, {"ann", "bo", "cy"}),
    ({"field": "points", "op": "between", "value": [1, 12]}, {"ann", "cy"}),
    ({"field": "points", "op": "in", "value": [0, 12]}, {"bo", "cy"}),
    ({"field": "points", "op": "not_in", "value": [0]}, {"ann", "cy"}),
    ({"field": "points", "op": "is_empty"}, {"di"}),
    ({"field": "total_spent", "op": "gte", "value": 99.99}, {"ann", "di"}),
    ({"field": "total_spent", "op": "lt", "value": 100}, {"bo", "di"}),
    ({"field": "total_spent", "op": "is_set"}, {"ann", "bo", "di"}),
    # boolean
    ({"field": "vip", "op": "eq", "value": True}, {"ann"}),
    ({"field": "vip", "op": "ne", "value": True}, {"bo"}),
    ({"field": "vip", "op": "is_empty"}, {"cy", "di"}),
    # date, absolute and relative (clock: 2026-06-15 12:00 UTC)
    ({"field": "birthday", "op": "eq", "value": "1990-06-18"}, {"ann"}),
    ({"field": "birthday", "op": "before", "value": "1990-01-01"}, {"bo"}),
    ({"field": "birthday", "op": "after", "value": "1990-01-01"}, {"ann", "cy"}),
    ({"field": "birthday", "op": "between", "value": ["1985-01-01", "1995-01-01"]}, {"ann", "bo"}),
    ({"field": "birthday", "op": "lt", "value": {"ago": "P30Y"}}, {"ann", "bo"}),
    ({"field": "birthday", "op": "lt", "value": {"ago": "P36Y"}}, {"bo"}),
    ({"field": "birthday", "op": "within", "value": {"last": "P40Y"}}, {"ann", "cy"}),
    ({"field": "birthday", "op": "anniversary_within", "value": {"next": "P7D"}}, {"ann"}),
    (
        {"field": "birthday", "op": "anniversary_within", "value": {"next": "P1Y"}},
        {"ann", "bo", "cy"},
    ),
    ({"field": "birthday", "op": "is_empty"}, {"di"}),
    # list
    ({"field": "tags", "op": "has_any", "value": ["vip", "toys"]}, {"ann", "cy"}),
    ({"field": "tags", "op": "has_all", "value": ["vip", "beauty"]}, {"ann"}),
    ({"field": "tags", "op": "has_all", "value": ["vip", "toys"]}, set()),
    ({"field": "tags", "op": "contains", "value": "toys"}, {"cy"}),
    ({"field": "tags", "op": "is_empty"}, {"bo", "di"}),
    ({"field": "tags", "op": "is_set"}, {"ann", "cy"}),
]


@pytest.mark.parametrize(
    ("tree", "expected"),
    CASES,
    ids=[f"{c[0]['field']}-{c[0]['op']}-{i}" for i, c in enumerate(CASES)],
)
def test_operator(people, clock, tree, expected):
    assert select(tree, clock) == expected


def test_nested_groups(people, clock):
    tree = {
        "any": [
            {
                "all": [
                    {"field": "points", "op": "gte", "value": 1},
                    {"not": {"field": "city", "op": "eq", "value": "Hangzhou"}},
                ]
            },
            {
                "not": {
                    "any": [{"field": "tags", "op": "is_set"}, {"field": "city", "op": "is_set"}]
                }
            },
        ]
    }
    assert select(tree, clock) == {"cy", "di"}


def test_not_keeps_missing_values_out_of_both_faces(people, clock):
    # "not (points > 5)": Di has no points; SQL's NULL must not drop or keep her differently
    assert select({"not": {"field": "points", "op": "gt", "value": 5}}, clock) == {
        "ann",
        "bo",
        "di",
    }
    assert select({"not": {"not": {"field": "points", "op": "gt", "value": 5}}}, clock) == {"cy"}


def test_empty_groups(people, clock):
    assert select({"all": []}, clock) == {"ann", "bo", "cy", "di"}
    assert select({"any": []}, clock) == set()


def test_condition_across_a_relation(people, clock):
    service.create("order", {"customer": people["ann"], "total": 10})
    service.create("order", {"customer": people["bo"], "total": 20})
    assert (
        len(select({"field": "customer.city", "op": "eq", "value": "Beijing"}, clock, "order")) == 1
    )
