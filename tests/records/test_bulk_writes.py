"""write_changes stores many records' new data and a history row each, as the service's
own writes would leave them: on PostgreSQL by one UPDATE and one COPY, elsewhere row by
row; a migration's (touch=False) leaves updated_at and updated_by as they were."""

from __future__ import annotations

import pytest

from tessera.records import service
from tessera.records.bulk_writes import write_changes
from tessera.records.history import field_changes
from tessera.records.loading import records_by_id
from tessera.records.models import Record, RecordChange

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("touch", [True, False])
def test_changes_are_stored_with_their_history(customer_object, django_user_model, touch):
    made = [service.create("customer", {"name": f"N{i}", "city": 'say "hi"\t\\'}) for i in range(3)]
    actor = django_user_model.objects.create(username="writer")
    before = {r.pk: r.updated_at for r in made}
    loaded = records_by_id([r.pk for r in made[:2]], lock=True)
    changes = []
    for record in loaded:
        new = {**record.data, "name": record.data["name"] + " 李", "points": 7}
        changes.append(field_changes(record.data, new))
        record.data, record.version = new, record.version + 1
    write_changes(
        "customer", loaded, changes, action="update", comment="bulk #1", actor=actor, touch=touch
    )
    stored = {r.pk: r for r in Record.objects.filter(pk__in=[r.pk for r in made])}
    for record in loaded:
        row = stored[record.pk]
        assert (row.data, row.version) == (record.data, 2)
        assert row.data["city"] == 'say "hi"\t\\'
        if touch:
            assert row.updated_by_id == actor.pk and row.updated_at > before[row.pk]
        else:
            assert row.updated_by_id is None and row.updated_at == before[row.pk]
        change = RecordChange.objects.get(record_id=record.pk, version=2)
        assert (change.action, change.comment, change.actor_id) == ("update", "bulk #1", actor.pk)
        assert change.changes == {"name": [f"N{loaded.index(record)}", row.data["name"]],
                                  "points": [None, 7]}  # fmt: skip
    untouched = stored[made[2].pk]
    assert (untouched.version, untouched.data["name"]) == (1, "N2")
    write_changes("customer", [], [], action="update")  # nothing to do
