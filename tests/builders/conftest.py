"""Fixtures for the builders' admin tests: a superuser client and the revision caches."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fresh_caches():
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
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")


@pytest.fixture
def admin_client(client, root):
    client.force_login(root)
    return client
