"""``recommend_products``: what customers with the same category affinity bought.

Computed from order lines in the database, no outside service: the customer's **affinity** is
the category of most of their order lines (ties by name); their **peers** are the customers
whose stored affinity is the same; the products recommended are the ones of that category
bought by the most peers, leaving out what the customer already bought, topped up with the
category's best sellers when peers are few. The affinity and the product names are written
to the customer (a transactional action), so the campaign's next message can list
``{% for p in record.recommendations %}``. A customer with no order lines is skipped.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from tessera.actions import subject
from tessera.actions.fields import check_field, object_properties
from tessera.actions.types import ActionType, Effect, Skip, sub_path
from tessera.definitions.errors import FieldError
from tessera.definitions.fields.base import SqlType
from tessera.records.indexes import field_expression

FIELD = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
TEXTS = {"string", "text", "enum"}


def _expr(name: str, sql_type: SqlType, alias: str) -> str:
    return field_expression(name, sql_type).replace("data", f"{alias}.data", 1)


class RecommendProducts(ActionType):
    """Write the customer's category affinity and products their affinity peers bought."""

    type = "recommend_products"
    label = {"en": "Recommend products", "zh": "推荐商品"}
    transactional = True
    params_schema = {
        "type": "object",
        "required": ["item_object"],
        "additionalProperties": False,
        "properties": {
            "item_object": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
            "customer_link": {**FIELD, "default": "customer"},
            "category_field": {**FIELD, "default": "category"},
            "product_field": {**FIELD, "default": "product_name"},
            "affinity_field": {**FIELD, "default": "top_category"},
            "field": {**FIELD, "default": "recommendations"},
            "count": {"type": "integer", "minimum": 1, "maximum": 20, "default": 3},
        },
    }

    def check(self, params: dict[str, Any], *, object_key: str | None, path: str):
        errors = super().check(params, object_key=object_key, path=path)
        if errors:
            return errors
        p = _params(params)
        errors += check_field(
            object_key, p["affinity_field"], sub_path(path, "affinity_field"), x_types={"string"}
        )
        errors += check_field(object_key, p["field"], sub_path(path, "field"), x_types={"list"})
        items = p["item_object"]
        where = sub_path(path, "item_object")
        properties = object_properties(items)
        if properties is None:
            return [*errors, FieldError(where, "unknown_object", f"{items!r} is not published")]
        link = properties.get(p["customer_link"], {})
        if link.get("x-relation", {}).get("object") != object_key:
            errors.append(
                FieldError(
                    sub_path(path, "customer_link"),
                    "relation",
                    f"{items}.{p['customer_link']} is not a link to {object_key}",
                )
            )
        for name in ("category_field", "product_field"):
            errors += check_field(items, p[name], sub_path(path, name), x_types=TEXTS)
        return errors

    def perform(self, effect: Effect) -> dict[str, Any]:
        p = _params(effect.params)
        affinity, picks = recommend(effect.object_key, effect.record_id, p)
        if affinity is None:
            raise Skip("the customer has no order lines yet")
        subject.update(
            effect,
            lambda data: (
                None
                if (data.get(p["affinity_field"]), data.get(p["field"])) == (affinity, picks)
                else {p["affinity_field"]: affinity, p["field"]: picks}
            ),
        )
        return {"affinity": affinity, "products": picks}


def _params(params: dict[str, Any]) -> dict[str, Any]:
    defaults = {
        k: v["default"]
        for k, v in RecommendProducts.params_schema["properties"].items()
        if "default" in v
    }
    return {**defaults, **params}


def recommend(customer_object: str, customer_id: int, p: dict[str, Any]):
    """(affinity category, product names) for one customer; (None, []) without order lines."""
    items = p["item_object"]
    link = _expr(p["customer_link"], SqlType.NUMBER, "i")
    category = _expr(p["category_field"], SqlType.TEXT, "i")
    product = _expr(p["product_field"], SqlType.TEXT, "i")
    peer_affinity = _expr(p["affinity_field"], SqlType.TEXT, "c")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {category}, COUNT(*) FROM records_record i "
            f"WHERE i.object_key = %s AND {link} = %s AND {category} IS NOT NULL "
            f"GROUP BY {category} ORDER BY COUNT(*) DESC, {category} LIMIT 1",
            [items, customer_id],
        )
        row = cursor.fetchone()
        if row is None:
            return None, []
        affinity = row[0]
        cursor.execute(
            f"SELECT DISTINCT {product} FROM records_record i "
            f"WHERE i.object_key = %s AND {link} = %s",
            [items, customer_id],
        )
        bought = {r[0] for r in cursor.fetchall()}
        want = p["count"] + len(bought)
        cursor.execute(
            f"SELECT {product}, COUNT(DISTINCT {link}) FROM records_record i "
            f"JOIN records_record c ON c.id = {link} AND c.object_key = %s "
            f"WHERE i.object_key = %s AND {category} = %s AND {peer_affinity} = %s "
            f"AND {link} <> %s AND {product} IS NOT NULL "
            f"GROUP BY {product} ORDER BY COUNT(DISTINCT {link}) DESC, {product} LIMIT %s",
            [customer_object, items, affinity, affinity, customer_id, want],
        )
        ranked = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            f"SELECT {product}, COUNT(*) FROM records_record i "
            f"WHERE i.object_key = %s AND {category} = %s AND {product} IS NOT NULL "
            f"GROUP BY {product} ORDER BY COUNT(*) DESC, {product} LIMIT %s",
            [items, affinity, want],
        )
        ranked += [r[0] for r in cursor.fetchall()]
    picks: list[str] = []
    for name in ranked:
        if name not in bought and name not in picks:
            picks.append(name)
    return affinity, picks[: p["count"]]
