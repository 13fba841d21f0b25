"""The e-commerce CRM installed once per test module, on a 200-customer sample shop.

``manage.py tessera_setup_demo --customers 200`` runs inside a transaction the module holds;
each test runs in a savepoint of it (pytest-django's ``db``) and the module's transaction
is rolled back at the end, so the shop is made once per module and nothing leaks into other
test modules. Tests compute what they check from the records themselves, independently of
the engine's SQL (RFM ranks, lifecycle rules, KPIs), and compare.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from tests.actions.conftest import http_server, smtp_server, smtp_settings  # noqa: F401
from tests.frozen_clock import Clock, deliver_all  # noqa: F401 (used by test modules)

SIZE = 200
SEED = 7
BOUGHT = ("paid", "shipped", "delivered", "completed")


def clear_caches() -> None:
    """Revision caches live per process; the tests roll revisions back, so start afresh."""
    from tessera.api.schema import build
    from tessera.conditions import objects
    from tessera.definitions import cache
    from tessera.flows import graph
    from tessera.flows.campaigns import catalog

    for item in (cache._published, objects._cache, graph._compiled, catalog._index, build._schemas):
        item.clear()


@dataclass
class Shop:
    """What the module's install made, for tests to read."""

    output: str

    @staticmethod
    def records(object_key: str) -> list[Any]:
        from tessera.records.models import Record

        return list(Record.objects.filter(object_key=object_key).order_by("pk"))


@pytest.fixture(scope="module")
def crm(django_db_setup, django_db_blocker) -> Iterator[Shop]:
    from django.core.management import call_command
    from django.db import transaction

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            clear_caches()
            out = io.StringIO()
            call_command("tessera_setup_demo", customers=SIZE, seed=SEED, no_live=True, stdout=out)
            yield Shop(out.getvalue())
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            clear_caches()


@pytest.fixture
def shop(crm, db, dispatched, settings) -> Shop:
    """The installed shop, in this test's savepoint; outbox sends collected, not dispatched."""
    settings.TESSERA_BASE_URL = "https://crm.example.com"
    return crm


@pytest.fixture
def dispatched(monkeypatch) -> list[int]:
    from tessera.actions import dispatch

    sent: list[int] = []
    monkeypatch.setattr(dispatch, "publish", sent.append)
    return sent


@pytest.fixture
def eager():
    """Celery tasks run in-process at once (the observers' tasks)."""
    from tessera.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def committed(django_capture_on_commit_callbacks, eager):
    """``with committed(): …`` runs what the block left for after the commit, in-process."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def when(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def money(value: Any) -> Decimal:
    return Decimal(str(value))
