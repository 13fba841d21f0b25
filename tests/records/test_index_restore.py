"""records/0005 puts back, on SQLite, the indexes a table copy in records/0003 dropped."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from tessera.records.indexes import drop_sql, existing_index_names

restore = importlib.import_module(
    "tessera.records.migrations.0005_restore_object_indexes_on_sqlite"
).restore


@pytest.mark.django_db
def test_the_indexes_published_objects_ask_for_come_back(customer_object):
    made = existing_index_names("customer")
    assert made  # x-unique email, x-index phone, city, total_spent
    with connection.cursor() as cursor:
        for name in made:
            cursor.execute(drop_sql(name))
    assert not existing_index_names("customer")
    restore(apps, SimpleNamespace(connection=connection))
    if connection.vendor == "sqlite":
        assert existing_index_names("customer") == made
    else:  # PostgreSQL altered the table in place: the migration leaves it alone
        assert not existing_index_names("customer")
