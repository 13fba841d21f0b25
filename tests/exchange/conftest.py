"""A shop for data exchange: customers (phone and email unique, labelled) and orders."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CUSTOMER, ORDER

SHOP_CUSTOMER: dict[str, Any] = copy.deepcopy(CUSTOMER)
SHOP_CUSTOMER["properties"]["phone"] = {
    "x-type": "phone",
    "x-unique": True,
    "x-label": {"en": "Mobile", "zh": "手机"},
}
SHOP_CUSTOMER["properties"]["city"]["x-label"] = {"en": "City", "zh": "城市"}
SHOP_CUSTOMER["properties"]["birthday"]["x-label"] = {"en": "Date of birth", "zh": "生日"}
SHOP_CUSTOMER["properties"]["level"]["x-label"] = {"en": "Member level", "zh": "会员等级"}
SHOP_CUSTOMER["properties"]["level"]["x-enum-labels"] = {
    "bronze": {"en": "Bronze", "zh": "铜卡"},
    "silver": {"en": "Silver", "zh": "银卡"},
    "gold": {"en": "Gold", "zh": "金卡"},
    "platinum": {"en": "Platinum", "zh": "白金卡"},
}
SHOP_CUSTOMER["properties"]["total_spent"]["x-label"] = {"en": "Total spent", "zh": "累计消费"}
SHOP_CUSTOMER["properties"]["points"]["x-label"] = {"en": "Points", "zh": "积分"}

SHOP_ORDER: dict[str, Any] = copy.deepcopy(ORDER)
SHOP_ORDER["x-time-field"] = "placed_at"
SHOP_ORDER["properties"]["customer"]["x-relation"]["related_name"] = "orders"
SHOP_ORDER["properties"]["status"]["enum"] = [
    "placed", "paid", "shipped", "delivered", "cancelled",
]  # fmt: skip


@pytest.fixture(autouse=True)
def fresh_caches():
    """Revision caches live per process and tests roll the revision back: clear them."""
    from tessera.conditions import objects
    from tessera.definitions import cache
    from tessera.records import validation
    from tessera.segments import freshness, membership

    caches = [
        cache._published,
        validation._validators,
        objects._cache,
        freshness._index,
        membership._compiled,
    ]
    for item in caches:
        item.clear()
    yield
    for item in caches:
        item.clear()


@pytest.fixture
def shop(publish_object):
    publish_object("customer", SHOP_CUSTOMER)
    publish_object("order", SHOP_ORDER)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path
