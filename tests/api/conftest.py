"""A shop for the API: customers and orders published, people with roles, clients.

``gql`` runs a query in-process through the real view (Django's test client, so the URL,
the middleware, authentication and limits are all on the path); ``live`` sends it with
``requests`` to the running test server.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group

from tests.conftest import CUSTOMER, ORDER

API_ORDER = copy.deepcopy(ORDER)
API_ORDER["x-time-field"] = "placed_at"
API_ORDER["properties"]["customer"]["x-relation"]["related_name"] = "orders"


@pytest.fixture(autouse=True)
def fresh_caches():
    """Revision caches live per process and tests roll the revision back: clear them."""
    from tessera.api.schema import build
    from tessera.conditions import objects
    from tessera.definitions import cache

    caches = [cache._published, objects._cache, build._schemas]
    for item in caches:
        item.clear()
    yield
    for item in caches:
        item.clear()


@pytest.fixture
def shop(publish_object):
    publish_object("customer", CUSTOMER)
    publish_object("order", API_ORDER)


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-1234567")


def make_token(user, scopes=("read", "write", "definitions")) -> str:
    from tessera.api import tokens

    raw, _ = tokens.issue(user, "test", list(scopes))
    return raw


@pytest.fixture
def admin_token(admin) -> str:
    return make_token(admin)


def grant(group_name: str, object_key: str, **rights: Any):
    from tessera.api.models import ObjectPermission

    group, _ = Group.objects.get_or_create(name=group_name)
    ObjectPermission.objects.update_or_create(group=group, object_key=object_key, defaults=rights)
    return group


@pytest.fixture
def gql(client) -> Callable[..., dict[str, Any]]:
    """POST a query through the view in-process; returns the JSON (status in ``_status``)."""

    def run(query: str, variables: dict | None = None, *, token: str | None = None, status=200):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        response = client.post(
            "/graphql",
            {"query": query, "variables": variables or {}},
            content_type="application/json",
            **headers,
        )
        assert response.status_code == status, response.content
        return response.json()

    return run
