"""Uninstall: only what the pack installed, never while something needs it, data kept."""

from __future__ import annotations

import pytest

from templates_lib import service
from templates_lib.models import InstalledDefinition, InstalledPack, InstalledRecord, PackLog
from templates_lib.problems import PackRefused
from tessera.definitions import service as definitions
from tessera.definitions.models import Definition, Status
from tessera.records import service as records
from tessera.records.indexes import existing_index_names
from tessera.records.models import Event, Record

from .conftest import HELLO_SHOP, HELLO_VIP, assert_same_state, database_state, read_json

SHOP_DEFINITIONS = [
    ("object", "customer"),
    ("object", "order"),
    ("screen", "customers"),
    ("segment", "big-spenders"),
]


def test_uninstall_archives_the_definitions_and_keeps_the_data_exportable(db, tmp_path):
    service.install(HELLO_SHOP)
    indexes = existing_index_names("customer")

    plan = service.uninstall("hello-shop", dry_run=True)
    assert plan.render().splitlines() == [
        "uninstall hello-shop 1.0.0",
        "  - screen customers: archived",
        "  - segment big-spenders: archived",
        "  - object order: archived; its 3 record(s) are kept",
        "  - object customer: archived; its 3 record(s) are kept",
    ]
    service.uninstall("hello-shop")

    for kind, key in SHOP_DEFINITIONS:
        assert definitions.current(kind, key) is None
        assert Definition.objects.get(kind=kind, key=key).status == Status.ARCHIVED
    assert Record.objects.filter(object_key="customer").count() == 3
    assert Record.objects.filter(object_key="order").count() == 3
    assert existing_index_names("customer") == indexes  # kept data stays queryable
    assert not InstalledPack.objects.exists() and not InstalledDefinition.objects.exists()
    assert not InstalledRecord.objects.exists()
    log = PackLog.objects.get(action="uninstall")
    assert log.summary == {"archived": 4, "deleted_records": 0, "delete_data": False}

    # the kept records can still be exported, with the archived definitions, as a pack
    exported = service.export(
        tmp_path / "kept",
        key="kept-data",
        version="1.0.0",
        refs=[("object", "order")],
        with_data=True,
    )
    assert set(exported.pack.definitions) == {("object", "customer"), ("object", "order")}
    assert [e.rows for e in exported.pack.sample] == [3, 3]

    # installing the pack again brings the definitions back over the kept records
    service.install(HELLO_SHOP, sample=False)
    assert definitions.current("object", "customer").version == 2
    assert Record.objects.filter(object_key="customer").count() == 3


def test_a_pack_another_installed_pack_depends_on_is_not_uninstalled(db):
    service.install(HELLO_VIP)
    before = database_state()
    with pytest.raises(PackRefused) as refused:
        service.uninstall("hello-shop")
    (problem,) = refused.value.problems
    assert (problem.code, problem.message) == (
        "needed_by",
        "hello-vip 1.0.0 depends on hello-shop: uninstall hello-vip first",
    )
    assert_same_state(before, database_state())
    service.uninstall("hello-vip")
    service.uninstall("hello-shop")
    assert not InstalledPack.objects.exists()


def test_delete_data_removes_the_records_their_events_and_indexes(db):
    service.install(HELLO_SHOP)
    assert Event.objects.exists()
    assert "records of customer" not in service.uninstall("hello-shop", dry_run=True).render()
    plan = service.uninstall("hello-shop", delete_data=True, dry_run=True)
    assert "  - object customer: archived; its 3 record(s) are deleted" in plan.render()

    service.uninstall("hello-shop", delete_data=True)

    assert not Record.objects.filter(object_key__in=["customer", "order"]).exists()
    assert not Event.objects.exists()
    assert existing_index_names("customer") == set() == existing_index_names("order")
    assert PackLog.objects.get(action="uninstall").summary["deleted_records"] == 6


def test_self_referencing_records_are_deleted_in_passes(db, make_pack):
    pack = make_pack(
        "people",
        {
            "key": "people",
            "version": "1.0.0",
            "sample_data": [{"object": "person", "file": "sample/people.jsonl"}],
        },
        {
            ("object", "person"): {
                "properties": {
                    "name": {"x-type": "string"},
                    "boss": {"x-type": "relation", "x-relation": {"object": "person"}},
                }
            }
        },
        {
            "sample/people.jsonl": '{"ref": "a", "data": {"name": "A"}}\n'
            '{"ref": "b", "data": {"name": "B"}}\n'
            '{"ref": "c", "data": {"name": "C", "boss": {"ref": "b"}}}\n'
        },
    )
    service.install(pack)
    # a person puts C above A: the oldest record points at the newest, so deleting newest
    # first meets a record still pointed at, which waits for the next pass
    a = Record.objects.get(object_key="person", data__name="A")
    c = Record.objects.get(object_key="person", data__name="C")
    records.update("person", a.pk, {"boss": c.pk}, version=a.version)
    service.uninstall("people", delete_data=True)
    assert not Record.objects.filter(object_key="person").exists()


def test_uninstall_leaves_what_the_pack_did_not_install(db, publish_object):
    publish_object("supplier", {"properties": {"name": {"x-type": "string"}}})
    service.install(HELLO_SHOP)
    records.create("supplier", {"name": "Acme"})
    # a person changes a pack definition: still the pack's, so it goes with the pack
    body = read_json(HELLO_SHOP / "definitions/segment/big-spenders.json")
    body["condition"]["value"] = 10
    definitions.save_and_publish("segment", "big-spenders", body)

    plan = service.uninstall("hello-shop", dry_run=True)
    assert "  - segment big-spenders: archived (it was changed here since the install)" in (
        plan.render()
    )
    service.uninstall("hello-shop")

    assert definitions.current("object", "supplier").version == 1
    assert Record.objects.filter(object_key="supplier").count() == 1


def test_uninstall_is_refused_while_a_persons_definition_uses_the_packs(db):
    service.install(HELLO_SHOP)
    definitions.save_and_publish(
        "segment",
        "from-hangzhou",
        {"object": "customer", "condition": {"field": "city", "op": "eq", "value": "Hangzhou"}},
    )
    before = database_state()
    with pytest.raises(PackRefused) as refused:
        service.uninstall("hello-shop")
    (problem,) = refused.value.problems
    assert problem.code == "used_elsewhere"
    assert problem.message == (
        "object customer of this pack is used by segment from-hangzhou, which the pack did "
        "not install: archive or change them first"
    )
    assert_same_state(before, database_state())


def test_uninstalling_what_is_not_installed(db):
    with pytest.raises(PackRefused, match="nothing-here is not installed"):
        service.uninstall("nothing-here")
