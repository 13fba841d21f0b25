"""The property that holds the language together: SQL and Python select the same records.

Hypothesis draws a small shop (customers, orders, events) and random condition trees over
every leaf kind; each tree is compiled to SQL and evaluated in Python on every record, on
whichever database the suite runs on (CI runs it on SQLite and on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.conditions.compiler import matching
from tessera.conditions.context import Clock
from tessera.conditions.evaluate import evaluate
from tessera.conditions.tree import parse
from tessera.records.models import Event, Record

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
CITIES = ["Hangzhou", "Beijing", "上海", ""]
TAGS = ["a", "b", "c"]
LEVELS = ["bronze", "silver", "gold", "platinum"]
DATES = ["1990-06-18", "1985-12-31", "2000-06-14", "2026-06-15", "2026-01-01"]
MONEY = [0, 0.5, 1, 10, 99.5, 250]
CATEGORIES = ["beauty", "food", "toys"]
EVENTS = ["cart_abandoned", "product_viewed"]
SKUS = ["X", "Y", 1]


def maybe(strategy):
    return st.one_of(st.none(), strategy)


customers = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["Ann", "Bo", "Cy Hang", "Di"]),
        "city": maybe(st.sampled_from(CITIES)),
        "level": maybe(st.sampled_from(LEVELS)),
        "points": maybe(st.integers(0, 5)),
        "total_spent": maybe(st.sampled_from(MONEY)),
        "vip": maybe(st.booleans()),
        "birthday": maybe(st.sampled_from(DATES)),
        "tags": maybe(st.lists(st.sampled_from(TAGS), unique=True, max_size=3)),
    }
)
orders = st.tuples(
    st.integers(0, 5), st.sampled_from(MONEY), st.sampled_from(CATEGORIES), st.integers(0, 200)
)
events = st.tuples(
    st.integers(0, 5),
    st.sampled_from(EVENTS),
    st.integers(0, 40),
    st.dictionaries(st.just("sku"), st.sampled_from(SKUS), max_size=1),
)

TEXT_OPS = [
    "eq",
    "ne",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "ends_with",
    "is_empty",
    "is_set",
]
NUM_OPS = ["eq", "ne", "lt", "lte", "gt", "gte", "between", "in", "not_in", "is_empty", "is_set"]
DATE_OPS = [
    "eq",
    "ne",
    "before",
    "after",
    "lt",
    "gte",
    "between",
    "within",
    "anniversary_within",
    "is_empty",
    "is_set",
]


def text_leaf(field, pool):
    def build(op, a, b):
        if op in ("is_empty", "is_set"):
            return {"field": field, "op": op}
        if op in ("in", "not_in"):
            return {"field": field, "op": op, "value": [a, b]}
        if op in ("contains", "starts_with", "ends_with"):
            return {"field": field, "op": op, "value": (a or "a")[:2]}
        return {"field": field, "op": op, "value": a}

    return st.builds(build, st.sampled_from(TEXT_OPS), st.sampled_from(pool), st.sampled_from(pool))


def number_leaf(field, pool):
    def build(op, a, b):
        if op in ("is_empty", "is_set"):
            return {"field": field, "op": op}
        if op in ("in", "not_in", "between"):
            return {"field": field, "op": op, "value": sorted([a, b])}
        return {"field": field, "op": op, "value": a}

    return st.builds(build, st.sampled_from(NUM_OPS), st.sampled_from(pool), st.sampled_from(pool))


relative = st.sampled_from([{"ago": "P30Y"}, {"ago": "P1Y"}, {"from_now": "P7D"}, "today"])
durations = st.sampled_from(["P7D", "P30D", "P1Y", "P40Y"])


def date_leaf(field):
    def build(op, a, b, rel, dur):
        if op in ("is_empty", "is_set"):
            return {"field": field, "op": op}
        if op == "between":
            return {"field": field, "op": op, "value": sorted([a, b])}
        if op == "within":
            return {"field": field, "op": op, "value": {"last": dur}}
        if op == "anniversary_within":
            return {"field": field, "op": op, "value": {"next": dur}}
        return {"field": field, "op": op, "value": rel if op in ("lt", "gte") else a}

    return st.builds(
        build,
        st.sampled_from(DATE_OPS),
        st.sampled_from(DATES),
        st.sampled_from(DATES),
        relative,
        durations,
    )


list_leaf = st.builds(
    lambda op, values: {
        "field": "tags",
        "op": op,
        **(
            {"value": values}
            if op in ("has_any", "has_all")
            else {"value": values[0]}
            if op == "contains"
            else {}
        ),
    },
    st.sampled_from(["has_any", "has_all", "contains", "is_empty", "is_set"]),
    st.lists(st.sampled_from(TAGS), min_size=1, max_size=2, unique=True),
)
bool_leaf = st.builds(
    lambda op, v: {"field": "vip", "op": op, **({"value": v} if op in ("eq", "ne") else {})},
    st.sampled_from(["eq", "ne", "is_empty", "is_set"]),
    st.booleans(),
)

order_where = st.one_of(
    st.builds(lambda c: {"field": "category", "op": "eq", "value": c}, st.sampled_from(CATEGORIES)),
    number_leaf("total", MONEY),
)


def metric_leaf():
    def build(metric, window, where, op, value):
        tree = {"metric": metric, "op": op, "value": value}
        if window:
            tree["window"] = window
        if where:
            tree["where"] = where
        return tree

    numeric = st.builds(
        build,
        st.sampled_from(
            ["orders.count", "orders.sum.total", "orders.avg.total", "orders.max.total"]
        ),
        st.sampled_from([None, "P30D", "P90D"]),
        maybe(order_where),
        st.sampled_from(["gte", "lt", "eq"]),
        st.sampled_from([0, 1, 2, 10, 99.5, 250]),
    )
    dated = st.builds(
        build,
        st.sampled_from(["orders.last", "orders.first"]),
        st.sampled_from([None, "P90D"]),
        st.none(),
        st.sampled_from(["within", "before"]),
        st.none(),
    ).map(lambda t: {**t, "value": {"last": "P30D"} if t["op"] == "within" else {"ago": "P60D"}})
    return st.one_of(numeric, dated)


event_leaf = st.builds(
    lambda name, within, where, count: {
        "event": name,
        **({"within": within} if within else {}),
        **({"where": where} if where else {}),
        **({"count": count} if count else {}),
    },
    st.sampled_from(EVENTS),
    st.sampled_from([None, "P7D", "P30D"]),
    st.dictionaries(st.just("sku"), st.sampled_from(SKUS), max_size=1),
    maybe(
        st.builds(
            lambda op, v: {"op": op, "value": v},
            st.sampled_from(["gte", "eq", "lt"]),
            st.integers(0, 2),
        )
    ),
)

leaves = st.one_of(
    text_leaf("city", [*CITIES[:3], "Hang"]),
    text_leaf("name", ["Ann", "Cy", "Hang"]),
    st.builds(
        lambda op, v: {"field": "level", "op": op, "value": v},
        st.sampled_from(["eq", "ne"]),
        st.sampled_from(LEVELS),
    ),
    number_leaf("points", [0, 1, 3, 5]),
    number_leaf("total_spent", MONEY),
    bool_leaf,
    date_leaf("birthday"),
    list_leaf,
    metric_leaf(),
    event_leaf,
)
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(children, max_size=3)),
        st.builds(lambda c: {"any": c}, st.lists(children, max_size=3)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=6,
)


def store(people, order_rows, event_rows):
    Event.objects.all().delete()
    Record.objects.all().delete()
    made = Record.objects.bulk_create(
        Record(
            object_key="customer",
            schema_version=1,
            data={k: v for k, v in person.items() if v is not None},
        )
        for person in people
    )
    Record.objects.bulk_create(
        Record(
            object_key="order",
            schema_version=1,
            data={
                "customer": made[who % len(made)].pk,
                "total": total,
                "category": category,
                "placed_at": (NOW - dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            },
        )
        for who, total, category, days in order_rows
    )
    Event.objects.bulk_create(
        Event(
            subject=made[who % len(made)],
            type=name,
            payload=payload,
            occurred_at=NOW - dt.timedelta(days=days),
        )
        for who, name, days, payload in event_rows
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    people=st.lists(customers, min_size=1, max_size=6),
    order_rows=st.lists(orders, max_size=10),
    event_rows=st.lists(events, max_size=6),
    conditions=st.lists(trees, min_size=1, max_size=4),
)
def test_sql_and_python_select_the_same_records(shop, people, order_rows, event_rows, conditions):
    store(people, order_rows, event_rows)
    clock = Clock(NOW)
    customers_now = list(Record.objects.filter(object_key="customer"))
    for tree in conditions:
        node = parse(tree, "customer")
        by_sql = set(matching(node, "customer", clock=clock).values_list("pk", flat=True))
        by_python = {r.pk for r in customers_now if evaluate(node, r, clock=clock)}
        assert by_sql == by_python, tree
