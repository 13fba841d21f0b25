"""On SQLite the segments' metrics over related records use the relation's index.

The CRM's segments and lifecycle rules count a customer's paid orders and order lines
(``orders.count`` with a ``where``); the compiled subquery must find them through the
relation's expression index, not by reading every order once per customer.
"""

from __future__ import annotations

import pytest
from django.db import connection

from templates_lib import service
from templates_lib.library import BUILTIN_DIR
from tessera.conditions.compiler import compile_condition
from tessera.conditions.tree import parse

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner"),
]

PAID = {"field": "status", "op": "in", "value": ["paid", "shipped", "delivered", "completed"]}


@pytest.mark.parametrize(
    ("metric", "where", "index_field"),
    [
        ("orders.count", PAID, "customer"),
        ("order_items.count", {"field": "category", "op": "eq", "value": "home"}, "customer"),
    ],
)
def test_a_related_metric_probes_the_relation_index(metric, where, index_field):
    service.install(BUILTIN_DIR / "ecommerce_core", sample=False)
    node = parse({"metric": metric, "where": where, "op": "gte", "value": 2}, "customer")
    compiled = compile_condition(node, "customer")
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM records_record "
            f"WHERE object_key = 'customer' AND ({compiled.sql})",
            compiled.params,
        )
        plan = [row[-1] for row in cursor.fetchall()]
    inner = [step for step in plan if step.startswith("SEARCH t")]
    assert inner and all(f"_{index_field}_" in step for step in inner), plan
