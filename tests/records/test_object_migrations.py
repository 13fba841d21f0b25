"""Publishing an object change against stored data: refused with a report, or migrated."""

from __future__ import annotations

import pytest

from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed
from tessera.definitions.service import PublishRefused
from tessera.records import service as records
from tessera.records.models import Record, RecordChange
from tessera.records.object_kind import preview

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(customer_object):
    return [
        records.create("customer", {"name": "A", "points": 5, "level": "gold", "city": "Xi'an"}),
        records.create("customer", {"name": "B", "level": "silver"}),
        records.create("customer", {"name": "C", "city": "Ningbo"}),
    ]


def test_adding_an_optional_field_is_free(stored, customer_body):
    customer_body["properties"]["nickname"] = {"x-type": "string"}
    assert definitions.save_and_publish("object", "customer", customer_body).version == 2


def test_removing_a_field_with_data_is_refused_with_a_report(stored, customer_body):
    del customer_body["properties"]["city"]
    with pytest.raises(PublishRefused) as info:
        definitions.save_and_publish("object", "customer", customer_body)
    report = info.value.report
    assert (report["checked"], report["breaking"]) == (3, 2)
    city = report["fields"]["city"]
    assert city["count"] == 2
    assert {e["record"] for e in city["examples"]} == {stored[0].pk, stored[2].pk}
    assert city["examples"][0]["path"] == "$.city"
    assert any("drop" in s for s in report["suggestions"])
    # nothing published, nothing changed
    assert definitions.current("object", "customer").version == 1
    assert Record.objects.get(pk=stored[0].pk).data["city"] == "Xi'an"


def test_narrowing_an_enum_is_refused_then_mapped(stored, customer_body):
    customer_body["properties"]["level"]["enum"] = ["bronze", "gold", "vip"]
    with pytest.raises(PublishRefused) as info:
        definitions.save_and_publish("object", "customer", customer_body)
    assert info.value.report["fields"]["level"]["examples"][0]["value"] == "silver"
    published = definitions.publish(
        "object", "customer", migration={"convert": {"level": {"map": {"silver": "vip"}}}}
    )
    assert published.version == 2
    assert Record.objects.get(pk=stored[1].pk).data["level"] == "vip"


def test_type_change_with_a_conversion_preview_and_migration(stored, customer_body):
    customer_body["properties"]["points"] = {"x-type": "string", "maxLength": 1}
    customer_body["properties"]["city"] = {"x-type": "integer"}
    definitions.save_draft("object", "customer", customer_body)
    migration = {"convert": {"points": {}, "city": {"on_error": "clear"}}}
    report = preview("customer", customer_body, migration)
    assert report["breaking"] == 0 and report["would_change"] == 2
    report = preview("customer", customer_body, {"convert": {"city": {}}})
    assert report["fields"]["city"]["reasons"][0].startswith("cannot convert")
    definitions.publish("object", "customer", migration=migration)
    data = {r.pk: r.data for r in Record.objects.all()}
    assert data[stored[0].pk] == {"name": "A", "points": "5", "level": "gold"}
    assert data[stored[2].pk] == {"name": "C"}
    migrated = RecordChange.objects.filter(action="migrate", record_id=stored[0].pk).get()
    assert migrated.changes == {"city": ["Xi'an", None], "points": [5, "5"]}
    assert Record.objects.get(pk=stored[0].pk).version == 2


def test_rename_carries_the_values(stored, customer_body):
    customer_body["properties"]["town"] = customer_body["properties"].pop("city")
    definitions.save_draft("object", "customer", customer_body)
    definitions.publish("object", "customer", migration={"rename": {"city": "town"}})
    assert Record.objects.get(pk=stored[2].pk).data == {"name": "C", "town": "Ningbo"}


def test_records_are_walked_and_migrated_a_chunk_at_a_time(stored, customer_body, monkeypatch):
    """Chunks of two: every record still checked, changed, versioned and in history."""
    from tessera.records import object_kind

    monkeypatch.setattr(object_kind, "WALK_CHUNK", 2)
    more = [records.create("customer", {"name": f"M{i}", "city": "Wuxi"}) for i in range(3)]
    customer_body["properties"]["town"] = customer_body["properties"].pop("city")
    report = preview("customer", customer_body, {"rename": {"city": "town"}})
    assert (report["checked"], report["breaking"], report["would_change"]) == (6, 0, 5)
    definitions.save_draft("object", "customer", customer_body)
    definitions.publish("object", "customer", migration={"rename": {"city": "town"}})
    for record in [stored[0], stored[2], *more]:
        stored_now = Record.objects.get(pk=record.pk)
        assert "town" in stored_now.data and "city" not in stored_now.data
        assert (stored_now.version, stored_now.schema_version) == (2, 2)
    assert Record.objects.get(pk=stored[1].pk).version == 1  # had no city: unchanged
    assert RecordChange.objects.filter(action="migrate").count() == 5


def test_a_record_broken_between_the_check_and_the_write_refuses_the_publish(stored, customer_body):
    from tessera.records.object_kind import migrate_records

    customer_body["properties"]["town"] = customer_body["properties"].pop("city")
    Record.objects.filter(pk=stored[1].pk).update(data={"name": "B", "level": "diamond"})
    with pytest.raises(PublishRefused) as refused:
        migrate_records("customer", customer_body, {"rename": {"city": "town"}}, 2)
    assert f"record {stored[1].pk}" in str(refused.value)
    report = refused.value.report
    assert (report["checked"], report["breaking"]) == (1, 1)
    assert report["fields"]["level"]["examples"][0]["path"] == "$.level"


def test_drop_removes_the_values(stored, customer_body):
    del customer_body["properties"]["city"]
    definitions.save_draft("object", "customer", customer_body)
    definitions.publish("object", "customer", migration={"drop": ["city"]})
    assert all("city" not in r.data for r in Record.objects.all())


def test_a_bad_migration_names_its_path(stored, customer_body):
    del customer_body["properties"]["city"]
    definitions.save_draft("object", "customer", customer_body)
    with pytest.raises(ValidationFailed) as info:
        definitions.publish("object", "customer", migration={"drop": ["nope"], "shuffle": 1})
    paths = {e.path for e in info.value.errors}
    assert paths == {"$.migration.drop[0]", "$.migration.shuffle"}


def test_a_new_required_field_breaks_until_filled(stored, customer_body):
    customer_body["required"].append("city")
    with pytest.raises(PublishRefused) as info:
        definitions.save_and_publish("object", "customer", customer_body)
    assert info.value.report["fields"]["city"]["count"] == 1
