"""A statement still running at a request's deadline is cancelled by PostgreSQL: a mutation
waiting for a row another transaction holds answers ``timeout`` near the deadline instead
of waiting with it, changes nothing, and leaves the connection without the limit."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from tessera.records import service as records
from tessera.records.models import Record
from tests.api.test_limits import LIMITS

pytestmark = [
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="statement_timeout is PostgreSQL's",
    ),
    pytest.mark.django_db(transaction=True),
]

UPDATE = """mutation($id: ID!, $version: Int!, $input: CustomerInput!) {
    updateCustomer(id: $id, version: $version, input: $input) {
      record { points } errors { path code message } } }"""


def _other_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params)


def test_a_statement_waiting_past_the_deadline_is_cancelled(shop, gql, admin_token):
    ana = records.create("customer", {"name": "Ana", "points": 1})
    with _other_connection() as holder:
        holder.execute("SELECT 1 FROM records_record WHERE id = %s FOR UPDATE", [ana.pk])
        release = threading.Timer(4.0, holder.rollback)  # without the limit: waits till then
        release.start()
        started = time.monotonic()
        with override_settings(TESSERA_GRAPHQL={**LIMITS, "seconds": 1.0}):
            out = gql(
                UPDATE, {"id": ana.pk, "version": 1, "input": {"points": 2}}, token=admin_token
            )
        waited = time.monotonic() - started
        release.join()
    assert out["errors"][0]["extensions"]["code"] == "timeout", out
    assert out["errors"][0]["path"] == ["updateCustomer"]
    assert 0.9 <= waited < 5, waited  # at the deadline, not when the lock went
    assert Record.objects.get(pk=ana.pk).data["points"] == 1
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"  # the connection is as it was

    done = gql(UPDATE, {"id": ana.pk, "version": 1, "input": {"points": 3}}, token=admin_token)
    assert done["data"]["updateCustomer"]["record"] == {"points": 3}


def test_a_fast_request_is_answered_and_leaves_no_limit_behind(shop, gql, admin_token):
    records.create("customer", {"name": "Bo", "points": 1})
    out = gql("{ customers { nodes { name } } }", token=admin_token)
    assert out["data"]["customers"]["nodes"] == [{"name": "Bo"}]
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
