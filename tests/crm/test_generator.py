"""The sample shop generator: the same seed and day give the same shop, its count is its
size, and orders follow the shopping festivals."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from itertools import islice

from templates_lib.crm.sample import ShopGenerator
from templates_lib.sample import generators, row_errors

TODAY = "2026-11-20T12:00:00+00:00"


def rows(**options):
    return list(ShopGenerator().rows({"today": TODAY, **options}))


def test_the_same_seed_and_day_make_the_same_shop_and_another_seed_another():
    first = rows(customers=60, seed=11)
    assert json.dumps(first, sort_keys=True) == json.dumps(
        rows(customers=60, seed=11), sort_keys=True
    )
    other = rows(customers=60, seed=12)
    assert [r["data"] for r in other if r["object"] == "customer"] != [
        r["data"] for r in first if r["object"] == "customer"
    ]
    # a customer is the same whatever the size of the shop (its own random stream)
    small = [r for r in rows(customers=10, seed=11) if r["object"] == "customer"]
    big = [r for r in first if r["object"] == "customer"][:10]
    assert small == big


def test_count_is_the_number_of_rows_and_every_row_has_a_valid_shape():
    options = {"customers": 80, "seed": 3, "today": TODAY}
    made = list(ShopGenerator().rows(dict(options)))
    assert ShopGenerator().count(dict(options)) == len(made)
    assert all(row_errors(row, generated=True) == [] for row in made)
    kinds = Counter(r["object"] for r in made)
    assert kinds["customer"] == 80 and kinds["category"] == 8 and kinds["order"] > 80
    # rows point only at rows made before them
    seen: set[str] = set()
    for row in made:
        for value in row["data"].values():
            if isinstance(value, dict) and "ref" in value:
                assert value["ref"] in seen
        if row.get("ref"):
            seen.add(row["ref"])


def test_orders_follow_the_shopping_festivals():
    placed = Counter()
    for row in rows(customers=1500, seed=5, years=3):
        if row["object"] == "order":
            placed[dt.date.fromisoformat(row["data"]["placed_at"][:10])] += 1
    per_day = sum(placed.values()) / len(placed)
    singles = [n for day, n in placed.items() if day.month == 11 and 9 <= day.day <= 13]
    assert sum(singles) / len(singles) > 2 * per_day  # 11.11


def test_both_generators_are_registered_through_entry_points():
    assert {"ecommerce-shop", "ecommerce-service"} <= set(generators.keys())
    assert next(islice(generators.get("ecommerce-shop").rows({"customers": 1}), 1))
