"""A small shop: customers, their orders and events, with a frozen clock."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from tessera.conditions.context import Clock
from tests.conftest import CUSTOMER, ORDER

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)

SHOP_ORDER = copy.deepcopy(ORDER)
SHOP_ORDER["x-time-field"] = "placed_at"
SHOP_ORDER["properties"]["customer"]["x-relation"]["related_name"] = "orders"
SHOP_ORDER["properties"]["category"] = {"x-type": "enum", "enum": ["beauty", "food", "toys"]}


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def shop(publish_object):
    publish_object("customer", CUSTOMER)
    publish_object("order", SHOP_ORDER)
