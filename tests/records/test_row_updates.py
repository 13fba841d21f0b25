"""update_rows stores the named columns of many records as bulk_update would, and only
those records and columns."""

from __future__ import annotations

import datetime as dt

import pytest

from tessera.records import service
from tessera.records.models import Record
from tessera.records.row_updates import update_rows

pytestmark = pytest.mark.django_db


def test_the_named_columns_of_the_given_records_are_stored(customer_object, user):
    made = [service.create("customer", {"name": f"N{i}", "points": i}) for i in range(4)]
    untouched_before = Record.objects.get(pk=made[3].pk)
    when = dt.datetime(2025, 5, 4, 3, 2, 1, tzinfo=dt.UTC)
    for i, record in enumerate(made[:3]):
        record.data = {"name": f"名字 {i}", "points": 100 + i, "tags": ["a", {"b": None}]}
        record.version = 7
        record.schema_version = 99  # not named: not stored
        record.updated_at = when
        record.updated_by = user if i == 0 else None
    update_rows(made[:3], ["data", "version", "updated_at", "updated_by"])
    update_rows([], ["data"])  # nothing to do
    for i, record in enumerate(made[:3]):
        stored = Record.objects.get(pk=record.pk)
        assert stored.data == {"name": f"名字 {i}", "points": 100 + i, "tags": ["a", {"b": None}]}
        assert (stored.version, stored.schema_version) == (7, 1)
        assert stored.updated_at == when
        assert stored.updated_by_id == (user.pk if i == 0 else None)
    untouched = Record.objects.get(pk=made[3].pk)
    assert (untouched.data, untouched.version) == (untouched_before.data, 1)


@pytest.mark.django_db
def test_rows_of_any_model_are_updated_by_their_primary_key(django_user_model):
    """Campaign entries use it too: the table, columns and key come from the model."""
    users = [django_user_model.objects.create(username=f"u{i}") for i in range(3)]
    users[0].first_name, users[2].first_name = "Ana", "Bo"
    users[1].first_name = "not written"
    update_rows([users[0], users[2]], ["first_name"])
    stored = dict(django_user_model.objects.values_list("username", "first_name"))
    assert stored == {"u0": "Ana", "u1": "", "u2": "Bo"}
