"""Exports over the real view: a restricted role gets only its columns and rows, the same
check GraphQL makes; CSV streams, Excel opens."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Group
from openpyxl import load_workbook

from tessera.api import tokens
from tessera.api.models import ObjectPermission
from tessera.definitions import service as definitions
from tessera.records import service as records
from tessera.segments import service as segments


@pytest.fixture
def people(shop, django_user_model):
    support = Group.objects.create(name="support")
    ObjectPermission.objects.create(
        group=support, object_key="customer", read_fields=["name", "city", "level"]
    )
    clerk = django_user_model.objects.create_user("clerk", "c@example.com", "pw-1234567")
    clerk.groups.add(support)
    outsider = django_user_model.objects.create_user("out", "o@example.com", "pw-1234567")
    root = django_user_model.objects.create_superuser("root", "r@example.com", "pw-1234567")
    return {u.username: tokens.issue(u, "t", ["read"])[0] for u in (clerk, outsider, root)}


@pytest.fixture
def customers(shop):
    for name, city, email in [
        ("韩梅梅", "Hangzhou", "mm@example.com"),
        ("Li Lei", "Hangzhou", "ll@example.com"),
        ("Wang", "Beijing", "w@example.com"),
    ]:
        records.create("customer", {"name": name, "city": city, "email": email, "level": "gold"})
    definitions.save_and_publish(
        "segment",
        "hangzhou",
        {"object": "customer", "condition": {"field": "city", "op": "eq", "value": "Hangzhou"}},
    )
    segments.refresh("hangzhou")
    definitions.save_and_publish(
        "segment",
        "by-mail",
        {
            "object": "customer",
            "condition": {"field": "email", "op": "eq", "value": "ll@example.com"},
        },
    )


def get(client, token, url):
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")


def rows_of(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_a_segment_exported_by_a_restricted_role_lacks_the_denied_columns(
    client, people, customers
):
    response = get(client, people["clerk"], "/export/customer.csv?segment=hangzhou")
    assert response.status_code == 200 and response.streaming
    rows = rows_of(response)
    # PostgreSQL's jsonb keeps no key order: the columns are the body's fields as stored
    assert rows[0][0] == "id" and sorted(rows[0][1:]) == ["city", "level", "name"]
    name = rows[0].index("name")
    assert sorted(r[name] for r in rows[1:]) == ["Li Lei", "韩梅梅"]

    everything = rows_of(get(client, people["root"], "/export/customer.csv?segment=hangzhou"))
    assert "email" in everything[0] and "phone" in everything[0]

    asked = rows_of(get(client, people["clerk"], "/export/customer.csv?fields=name,email"))
    assert asked[0] == ["id", "name"] and len(asked) == 4

    book = get(client, people["clerk"], "/export/customer.xlsx?segment=hangzhou")
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(book.streaming_content))).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == rows[0] and len(values) == 3


def test_exports_are_refused_as_graphql_would_refuse_them(client, people, customers):
    denied = get(client, people["clerk"], "/export/customer.csv?segment=by-mail")
    assert denied.status_code == 403 and "customer.email" in denied.json()["error"]["message"]
    assert get(client, people["out"], "/export/customer.csv").status_code == 403
    assert client.get("/export/customer.csv").status_code == 401
    assert get(client, people["root"], "/export/nothing.csv").status_code == 404
    assert get(client, people["root"], "/export/customer.csv?segment=nope").status_code == 404
    assert get(client, people["root"], "/export/customer.csv?fields=nope").status_code == 400


def test_a_csv_export_reads_pages_as_it_streams(client, people, customers, monkeypatch):
    """Rows are read a page at a time while the response is sent, never all at once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tessera.exchange import export

    monkeypatch.setattr(export, "PAGE", 1)
    response = get(client, people["root"], "/export/customer.csv")
    assert response.status_code == 200 and response.streaming
    pieces = iter(response.streaming_content)
    with CaptureQueriesContext(connection) as first:
        next(pieces)  # the BOM: nothing read yet
    with CaptureQueriesContext(connection) as rest:
        text = b"".join(pieces).decode("utf-8")
    assert len(first.captured_queries) == 0
    pages = [q for q in rest.captured_queries if "ORDER BY" in q["sql"]]
    assert len(pages) == 4  # three pages of one row, then an empty one
    assert len(list(csv.reader(io.StringIO(text)))) == 4  # header and three rows
