"""Observers hear about committed writes and events, never about rolled-back ones."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.db import transaction

from tessera.records import observers, service
from tessera.records.observers import Write


@dataclass
class Notebook:
    type: str = "notebook"
    writes: list[tuple[str, list[Write]]] = field(default_factory=list)
    events: list[tuple[str, list[int], set[str]]] = field(default_factory=list)

    def records_changed(self, object_key, writes):
        self.writes.append((object_key, writes))

    def events_added(self, object_key, record_ids, types):
        self.events.append((object_key, record_ids, types))


@pytest.fixture
def notebook():
    with observers.observers.register_temporarily(Notebook()) as item:
        yield item


def test_create_update_delete_and_event_are_told_after_commit(
    customer_object, notebook, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record = service.create("customer", {"name": "Li", "city": "Hangzhou"})
        assert notebook.writes == []  # not before the commit
    with django_capture_on_commit_callbacks(execute=True):
        record = service.update("customer", record.pk, {"city": "Ningbo"}, version=1)
    with django_capture_on_commit_callbacks(execute=True):
        service.add_event(record, "cart_abandoned")
    with django_capture_on_commit_callbacks(execute=True):
        service.delete("customer", record.pk, version=2)

    actions = [(key, w[0].action, w[0].record_id) for key, w in notebook.writes]
    assert actions == [("customer", a, record.pk) for a in ("create", "update", "delete")]
    update = notebook.writes[1][1][0]
    assert update.changed == {"city"}
    assert update.before["city"] == "Hangzhou" and update.after["city"] == "Ningbo"
    assert notebook.writes[2][1][0].changed == {"name", "city"}
    assert notebook.events == [("customer", [record.pk], {"cart_abandoned"})]


def test_a_rolled_back_write_is_never_told(
    customer_object, notebook, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        service.create("customer", {"name": "Li"})
        raise RuntimeError("rolled back")
    assert callbacks == []
    assert notebook.writes == []


def test_a_failing_observer_does_not_break_the_write(
    customer_object, notebook, django_capture_on_commit_callbacks, caplog
):
    class Broken:
        type = "broken"

        def records_changed(self, object_key, writes):
            raise ValueError("boom")

    with (
        observers.observers.register_temporarily(Broken()),
        django_capture_on_commit_callbacks(execute=True),
    ):
        record = service.create("customer", {"name": "Li"})
    assert record.pk
    assert "record observer broken failed" in caplog.text
    assert len(notebook.writes) == 1  # the others are still told
