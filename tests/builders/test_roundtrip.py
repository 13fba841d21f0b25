"""Every builder writes the same JSON a developer writes by hand: open a published definition
in its builder, send the form back unchanged, and the draft is the very body published."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from tessera.definitions import service
from tests.builders.forms import form_data

DOCS = Path(__file__).resolve().parents[2] / "docs" / "examples"


def errors_in(html: str) -> str:
    import re

    found = re.findall(
        r'class="(?:tb-errors|error-message tb-error)"[^>]*>(.*?)</(?:div|p)>', html, re.S
    )
    return " | ".join(re.sub(r"<[^>]+>|\s+", " ", f) for f in found) or html[-2000:]


def load(*paths: Path) -> None:
    with open("/dev/null", "w") as quiet:
        call_command("definitions", "load", *map(str, paths), "--publish", stdout=quiet)


def roundtrip(client, kind: str, key: str) -> tuple[dict, dict]:
    url = f"/admin/tessera/definitions/{kind}/{key}/edit/"
    page = client.get(url + "?mode=builder")
    assert page.status_code == 200
    data = form_data(page.content.decode())
    data["op"] = ["save"]
    response = client.post(url, data)
    assert response.status_code == 302, errors_in(response.content.decode())
    return service.current(kind, key).body, service.draft(kind, key).body


def test_fields_builder_roundtrip(admin_client, db):
    load(DOCS / "customer.json", DOCS / "order.json")
    for key in ("customer", "order"):
        published, draft = roundtrip(admin_client, "object", key)
        assert draft == published


SEGMENTS = {
    "leaf": {"field": "city", "op": "eq", "value": "Hangzhou"},
    "nested": {
        "all": [
            {"field": "city", "op": "in", "value": ["Hangzhou", "Ningbo"]},
            {
                "any": [
                    {"metric": "orders.count", "window": "P90D", "op": "gte", "value": 3},
                    {"field": "points", "op": "between", "value": [10, 20]},
                    {"not": {"field": "level", "op": "eq", "value": "gold"}},
                ]
            },
            {"not": {"event": "cart_abandoned", "within": "P7D"}},
            {"field": "birthday", "op": "after", "value": {"ago": "P30D"}},
            {"field": "vip", "op": "eq", "value": True},
            {"field": "email", "op": "is_set"},
            {"metric": "orders.sum.total", "op": "gte", "value": 100.5},
            {
                "metric": "orders.count",
                "where": {"field": "status", "op": "eq", "value": "paid"},
                "op": "gte",
                "value": 2,
            },
            {
                "event": "cart_abandoned",
                "where": {"channel": "app"},
                "count": {"op": "gte", "value": 2},
            },
        ]
    },
}


@pytest.mark.parametrize("name", sorted(SEGMENTS))
def test_condition_builder_roundtrip(admin_client, publish_object, name):
    from tests.conftest import CUSTOMER, ORDER

    publish_object("customer", CUSTOMER)
    order = copy.deepcopy(ORDER)
    order["x-time-field"] = "placed_at"
    order["properties"]["customer"]["x-relation"]["related_name"] = "orders"
    publish_object("order", order)
    body = {
        "object": "customer",
        "x-label": {"en": "Test", "zh": "测试"},
        "condition": SEGMENTS[name],
    }
    service.save_and_publish("segment", "s-" + name, copy.deepcopy(body))
    published, draft = roundtrip(admin_client, "segment", "s-" + name)
    assert draft == published == body


def test_workflow_builder_roundtrip(admin_client, db):
    folder = DOCS / "workflows"
    load(folder / "ticket.json", folder / "cn-office.json", folder / "returns.json")
    published, draft = roundtrip(admin_client, "workflow", "returns")
    assert draft == published


def test_campaign_builder_roundtrip(admin_client, db):
    folder = DOCS / "campaigns"
    load(folder / "customer.json", folder / "order.json", folder / "abandoned-cart.json")
    published, draft = roundtrip(admin_client, "campaign", "abandoned-cart")
    assert json.dumps(draft, sort_keys=True) == json.dumps(published, sort_keys=True)
