"""Bad condition trees: a precise error with the JSON path, never an exception."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.conditions.tree import parse
from tessera.definitions.errors import ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("tree", "path", "code"),
    [
        ([], "$", "type"),
        ({}, "$", "type"),
        ({"all": {"field": "city"}}, "$", "invalid"),
        ({"all": [{"field": "nope", "op": "eq", "value": 1}]}, "$.all[0].field", "unknown_field"),
        ({"field": "city", "op": "gte", "value": "A"}, "$.op", "wrong_type"),
        ({"field": "city", "op": "matches", "value": "A.*"}, "$.op", "unknown_operator"),
        ({"field": "points", "op": "eq", "value": "five"}, "$.value", "invalid_value"),
        ({"field": "points", "op": "between", "value": [1]}, "$.value", "invalid_value"),
        ({"field": "vip", "op": "eq", "value": 1}, "$.value", "invalid_value"),
        (
            {"field": "birthday", "op": "before", "value": "yesterday-ish"},
            "$.value",
            "invalid_value",
        ),
        (
            {"field": "birthday", "op": "within", "value": {"last": "30 days"}},
            "$.value",
            "invalid_value",
        ),
        ({"field": "tags", "op": "eq", "value": "a"}, "$.op", "wrong_type"),
        ({"field": "city.name", "op": "eq", "value": "a"}, "$.field", "unknown_field"),
        (
            {"not": {"any": [{"field": "city", "op": "is_set", "value": 3}]}},
            "$.not.any[0].value",
            "invalid_value",
        ),
        ({"metric": "returns.count", "op": "gte", "value": 1}, "$.metric", "unknown_relation"),
        ({"metric": "orders.median", "op": "gte", "value": 1}, "$.metric", "unknown_aggregate"),
        ({"metric": "orders.sum.category", "op": "gte", "value": 1}, "$.metric", "unknown_field"),
        (
            {"metric": "orders.count", "window": "90 days", "op": "gte", "value": 1},
            "$.window",
            "invalid",
        ),
        (
            {
                "metric": "orders.count",
                "op": "gte",
                "value": 1,
                "where": {"field": "x", "op": "eq"},
            },
            "$.where.field",
            "unknown_field",
        ),
        ({"metric": 7, "op": "gte", "value": 1}, "$.metric", "type"),
        ({"event": "", "within": "P7D"}, "$.event", "invalid"),
        ({"event": "x", "count": {"op": "gte", "value": -1}}, "$.count", "invalid"),
        ({"event": "x", "where": {"a'b": "1"}}, '$.where["a\'b"]', "invalid"),
        ({"segment": "missing"}, "$.segment", "unknown_segment"),
        ({"field": "city", "op": "eq", "value": "x", "extra": 1}, "$", "invalid"),
    ],
)
def test_errors_name_the_path(shop, tree, path, code):
    with pytest.raises(ValidationFailed) as info:
        parse(tree, "customer")
    found = {(e.path, e.code) for e in info.value.errors}
    assert (path, code) in found, found


def test_errors_carry_a_path_prefix(shop):
    with pytest.raises(ValidationFailed) as info:
        parse({"all": [{"field": "nope", "op": "eq", "value": 1}]}, "customer", path=["condition"])
    assert info.value.errors[0].path == "$.condition.all[0].field"


def test_too_deep_is_refused(shop):
    tree = {"field": "city", "op": "is_set"}
    for _ in range(40):
        tree = {"not": tree}
    with pytest.raises(ValidationFailed) as info:
        parse(tree, "customer")
    assert info.value.errors[0].code == "too_deep"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "all",
                    "any",
                    "not",
                    "field",
                    "op",
                    "value",
                    "metric",
                    "window",
                    "where",
                    "event",
                    "within",
                    "count",
                    "segment",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)
fields = st.sampled_from(["city", "points", "tags", "birthday", "vip", "nope", "customer.city"])
ops = st.sampled_from(
    [
        "eq",
        "in",
        "between",
        "within",
        "has_all",
        "is_empty",
        "anniversary_within",
        "contains",
        "gte",
        "zz",
    ]
)
leafish = st.fixed_dictionaries({"field": fields, "op": ops}, optional={"value": json_values})
metricish = st.fixed_dictionaries(
    {
        "metric": st.sampled_from(
            ["orders.count", "orders.sum.total", "orders.last", "x.y.z", "orders"]
        ),
        "op": ops,
    },
    optional={"value": json_values, "window": json_values, "where": json_values},
)
treeish = st.recursive(
    leafish | metricish | json_values,
    lambda c: (
        st.builds(lambda x: {"all": x}, st.lists(c, max_size=3))
        | st.builds(lambda x: {"not": x}, c)
    ),
    max_leaves=8,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=treeish)
def test_random_trees_never_raise_anything_but_validation_errors(shop, tree):
    try:
        parse(tree, "customer")
    except ValidationFailed as exc:
        assert exc.errors and all(e.path.startswith("$") and e.message for e in exc.errors)
