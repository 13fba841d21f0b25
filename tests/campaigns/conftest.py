"""A shop for campaigns: the documented customer, order and segment, the four classic campaigns,
a frozen clock, real SMTP and HTTP servers, and helpers to play the tick.

The example files under docs/examples/campaigns are what the tests publish and run, so the
documentation's campaigns are the tested ones.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.actions.conftest import http_server, smtp_server, smtp_settings  # noqa: F401
from tests.frozen_clock import Clock, deliver_all  # noqa: F401 (used by test modules)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "campaigns"
START = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)  # a Monday: 09:00 in Shanghai


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def body(name: str) -> dict[str, Any]:
    return copy.deepcopy(example(name)["body"])


@pytest.fixture(autouse=True)
def fresh_caches():
    """Revision caches live per process and every test rolls the revision back: clear them."""
    from tessera.conditions import objects
    from tessera.definitions import cache
    from tessera.flows import graph
    from tessera.flows.campaigns import catalog

    caches = [cache._published, objects._cache, graph._compiled, catalog._index]
    for item in caches:
        item.clear()
    yield
    for item in caches:
        item.clear()


@pytest.fixture
def eager():
    """Celery tasks run in-process, at once (the observer's tasks, a broadcast's batches)."""
    from tessera.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def dispatched(monkeypatch) -> list[int]:
    """Outbox entries handed to the broker, collected instead (``deliver`` performs them)."""
    from tessera.actions import dispatch

    sent: list[int] = []
    monkeypatch.setattr(dispatch, "publish", sent.append)
    return sent


@pytest.fixture
def shop(db, dispatched, settings):
    """The documented customer and order objects and the dormant segment, published."""
    from tessera.definitions import service as definitions

    settings.DEFAULT_FROM_EMAIL = "Shop <shop@example.com>"
    settings.TESSERA_BASE_URL = "https://crm.example.com"
    for name in ("customer", "order", "dormant"):
        document = example(name)
        definitions.save_and_publish(document["kind"], document["key"], document["body"])


@pytest.fixture
def publish(shop) -> Callable[..., Any]:
    """Publish a campaign: a documented one by name, or a body given (key, body)."""
    from tessera.definitions import service as definitions

    def go(name: str, campaign: dict[str, Any] | None = None):
        return definitions.save_and_publish("campaign", name, campaign or body(name))

    return go


@pytest.fixture
def customer(shop) -> Callable[..., Any]:
    from tessera.records import service as records

    counter = iter(range(1, 1_000_000))

    def make(name: str | None = None, **data: Any):
        n = next(counter)
        values = {
            "name": name or f"Customer {n}",
            "email": f"c{n}@example.com",
            "phone": f"+86 138 0000 {n:04d}",
            "email_opt_in": True,
            "sms_opt_in": True,
            **data,
        }
        return records.create("customer", {k: v for k, v in values.items() if v is not None})

    return make


@pytest.fixture
def clock() -> Iterator[Clock]:
    with Clock(START) as moving:
        yield moving


@pytest.fixture
def committed(django_capture_on_commit_callbacks, eager):
    """``with committed(): …`` runs what the block left for after the commit (observers,
    their tasks in-process): the test itself never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def event(record, kind: str, **payload: Any):
    from tessera.records import service as records

    return records.add_event(record, kind, payload)


def one_send(event_type: str = "promo", *, marketing: bool = True, **extra: Any) -> dict[str, Any]:
    """A campaign that sends one e-mail when ``event_type`` happens (any number of times)."""
    return {
        "object": "customer",
        "trigger": {"type": "event", "event": event_type},
        "reentry": "always",
        "time_zone": {"field": "time_zone", "default": "Asia/Shanghai"},
        "consent": {"email": "email_opt_in"},
        "start": "mail",
        "nodes": {
            "mail": {
                "type": "send",
                "channel": "email",
                "marketing": marketing,
                "message": {
                    "subject": f"{event_type} for {{{{ record.name }}}}",
                    "body": "See https://shop.example.com/offers\nStop: {{ unsubscribe_url }}",
                    "html": '<a href="https://shop.example.com/offers">Offers</a>',
                },
                "next": "done",
            },
            "done": {"type": "end"},
        },
        **extra,
    }
