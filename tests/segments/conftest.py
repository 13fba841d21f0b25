"""A shop for segments: customers with RFM and lifecycle fields, orders, a frozen clock.

``frozen`` stops ``django.utils.timezone.now`` at ``NOW`` for the whole test, so the
background paths (observers, eager Celery tasks, the tick) see the same time as the test.
``committed`` runs the on-commit callbacks of the block (the test is wrapped in a
transaction that never commits), and ``eager`` makes Celery run tasks in-process.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from tessera.conditions.context import Clock
from tessera.definitions import service as definitions
from tessera.records import service as records
from tests.conditions.conftest import NOW, SHOP_ORDER
from tests.conftest import CUSTOMER

SEG_CUSTOMER = copy.deepcopy(CUSTOMER)
SEG_CUSTOMER["properties"].update(
    {
        "referrer": {
            "x-type": "relation",
            "x-relation": {"object": "customer", "related_name": "referrals"},
        },
        "rfm_r": {"x-type": "integer", "minimum": 1, "maximum": 5},
        "rfm_f": {"x-type": "integer", "minimum": 1, "maximum": 5},
        "rfm_m": {"x-type": "integer", "minimum": 1, "maximum": 5},
        "rfm_cell": {"x-type": "string", "maxLength": 40},
        "lifecycle_stage": {
            "x-type": "enum",
            "enum": ["prospect", "new", "active", "dormant", "churned"],
        },
    }
)


def ago(days: float = 0, **kwargs: float) -> str:
    return (NOW - dt.timedelta(days=days, **kwargs)).isoformat().replace("+00:00", "Z")


@pytest.fixture(autouse=True)
def fresh_caches():
    """Revision caches live per process, and every test rolls the revision back: clear them."""
    from tessera.conditions import objects
    from tessera.definitions import cache
    from tessera.segments import freshness, membership

    caches = [cache._published, objects._cache, freshness._index, membership._compiled]
    for item in caches:
        item.clear()
    yield
    for item in caches:
        item.clear()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def frozen(monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def eager():
    from tessera.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def committed(django_capture_on_commit_callbacks, eager):
    """``with committed(): …`` runs what the block enqueued on commit, tasks in-process."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def store(db):
    definitions.save_and_publish("object", "customer", copy.deepcopy(SEG_CUSTOMER))
    definitions.save_and_publish("object", "order", copy.deepcopy(SHOP_ORDER))


@pytest.fixture
def customer(store) -> Callable[..., Any]:
    def make(name: str, **data: Any):
        return records.create("customer", {"name": name, **data})

    return make


@pytest.fixture
def order(store) -> Callable[..., Any]:
    def make(who, total: float, days_ago: float, **data: Any):
        return records.create(
            "order",
            {
                "customer": who.pk,
                "total": total,
                "placed_at": ago(days_ago),
                "status": "paid",
                **data,
            },
        )

    return make


@pytest.fixture
def publish_segment(store) -> Callable[..., Any]:
    def publish(key: str, condition: dict[str, Any], **extra: Any):
        body = {"object": "customer", "condition": condition, **extra}
        return definitions.save_and_publish("segment", key, body)

    return publish


def members(key: str) -> set[str]:
    from tessera.segments import service

    return {r.data["name"] for r in service.members(key)}


def events(record, type: str) -> list[dict[str, Any]]:
    from tessera.records.models import Event

    return [e.payload for e in Event.objects.filter(subject=record, type=type).order_by("id")]
