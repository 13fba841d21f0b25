"""Fixtures for the operator UI tests."""

from __future__ import annotations

import pytest

from tests.frontend.shop import build_shop


@pytest.fixture(autouse=True)
def fresh_caches():
    """Revision caches live per process and tests roll the revision back: clear them."""
    from tessera.conditions import objects
    from tessera.definitions import cache
    from tessera.flows import graph

    caches = [cache._published, objects._cache, graph._compiled]
    for item in caches:
        item.clear()
    yield
    for item in caches:
        item.clear()


@pytest.fixture
def shop(db, django_user_model):
    return build_shop(django_user_model)


@pytest.fixture
def operator_client(client, shop):
    client.force_login(shop["operator"])
    return client


@pytest.fixture
def admin_client_ui(client, shop):
    client.force_login(shop["admin"])
    return client
