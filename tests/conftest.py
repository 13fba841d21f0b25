"""Fixtures shared by the whole suite: published objects and a user."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

CUSTOMER: dict[str, Any] = {
    "type": "object",
    "x-label": {"en": "Customer", "zh": "客户"},
    "x-title-field": "name",
    "required": ["name"],
    "properties": {
        "name": {"x-type": "string", "x-label": {"en": "Name", "zh": "姓名"}},
        "email": {"x-type": "email", "x-unique": True},
        "phone": {"x-type": "phone", "x-index": True},
        "city": {"x-type": "string", "x-index": True},
        "birthday": {"x-type": "date"},
        "level": {"x-type": "enum", "enum": ["bronze", "silver", "gold", "platinum"]},
        "points": {"x-type": "integer", "minimum": 0},
        "total_spent": {"x-type": "money", "x-index": True},
        "vip": {"x-type": "boolean"},
        "tags": {"x-type": "list", "items": {"x-type": "string", "maxLength": 40}},
    },
}

ORDER: dict[str, Any] = {
    "type": "object",
    "x-label": {"en": "Order", "zh": "订单"},
    "required": ["customer", "total"],
    "properties": {
        "customer": {"x-type": "relation", "x-relation": {"object": "customer"}},
        "total": {"x-type": "money"},
        "placed_at": {"x-type": "datetime", "x-index": True},
        "status": {"x-type": "enum", "enum": ["placed", "paid", "shipped", "delivered"]},
    },
}


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing():
    """Django's own advice for tests: PBKDF2's deliberate slowness cost ~0.6 s per user made.

    Processes the suite starts (workers, ``./tessera up``) keep the real hashers.
    """
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture
def customer_body() -> dict[str, Any]:
    return copy.deepcopy(CUSTOMER)


@pytest.fixture
def publish_object(db) -> Callable[..., Any]:
    """Publish an object definition (a deep copy of ``body``) and return the version."""
    from tessera.definitions import service

    def publish(key: str, body: dict[str, Any], **kwargs: Any):
        return service.save_and_publish("object", key, copy.deepcopy(body), **kwargs)

    return publish


@pytest.fixture
def customer_object(publish_object):
    return publish_object("customer", CUSTOMER)


@pytest.fixture
def order_object(customer_object, publish_object):
    return publish_object("order", ORDER)


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("ana", "ana@example.com", "pw-1234567")


pytest_plugins = ["tests.worker"]
