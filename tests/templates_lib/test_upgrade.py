"""Upgrades: a three-way plan (installed version, this instance's version, the new one),
conflicts settled explicitly, data migrations for object changes, one transaction.
"""

from __future__ import annotations

import pytest

from templates_lib import service
from templates_lib.models import InstalledDefinition, InstalledPack, PackLog
from templates_lib.problems import PackRefused
from templates_lib.service import UnresolvedConflicts
from tessera.definitions import service as definitions
from tessera.definitions.models import Definition, Status
from tessera.records.models import Record, RecordChange

from .conftest import HELLO_SHOP, HELLO_VIP, assert_same_state, database_state, edit_json

SEGMENT = "definitions/segment/big-spenders.json"
CUSTOMER = "definitions/object/customer.json"


def threshold(value):
    def change(body):
        body["condition"]["value"] = value

    return change


def person_sets_threshold(value) -> None:
    """What a business user does in the admin: edit the segment and publish it."""
    body = definitions.current("segment", "big-spenders").body
    threshold(value)(body)
    definitions.save_and_publish("segment", "big-spenders", body)


@pytest.fixture
def version_1_1(shop_copy):
    """hello-shop 1.1.0: a new customer field, a new threshold, a new segment, no screen."""
    folder = shop_copy("hello-shop-1.1")

    def manifest(m):
        m["version"] = "1.1.0"
        m["definitions"]["segment"].append("newcomers")
        del m["definitions"]["screen"]

    edit_json(folder / "manifest.json", manifest)
    edit_json(folder / CUSTOMER, lambda b: b["properties"].update(phone={"x-type": "phone"}))
    edit_json(folder / SEGMENT, threshold(2000))
    (folder / "definitions/screen/customers.json").unlink()
    (folder / "definitions/segment/newcomers.json").write_text(
        '{"object": "customer", "condition": {"field": "total_spent", "op": "lt", "value": 100}}'
    )
    return folder


def test_the_plan_of_an_upgrade_shows_changes_removals_and_a_conflict(db, version_1_1):
    service.install(HELLO_SHOP)
    person_sets_threshold(1500)

    plan = service.plan(version_1_1)

    (pack,) = plan.packs
    assert (pack.mode, pack.installed_version, pack.version) == ("upgrade", "1.0.0", "1.1.0")
    assert {(s.kind, s.key): s.action for s in pack.steps} == {
        ("object", "customer"): "change",
        ("object", "order"): "unchanged",
        ("segment", "big-spenders"): "conflict",
        ("segment", "newcomers"): "add",
        ("screen", "customers"): "remove",
    }
    assert plan.render() == "\n".join(
        [
            "upgrade hello-shop 1.0.0 -> 1.1.0 (requested)",
            "  ~ object customer",
            '      + $.properties.phone: {"x-type": "phone"}',
            "  ! segment big-spenders: changed here since 1.0.0, and the pack changed it too "
            "[conflict: unresolved]",
            "      yours:",
            "        ~ $.condition.value: 1000 -> 1500",
            "      the pack's:",
            "        ~ $.condition.value: 1000 -> 2000",
            "  + segment newcomers",
            "  - screen customers: no longer in the pack: archived",
            "1 conflict(s): choose whose version wins, per definition (--mine KIND:KEY / "
            "--theirs KIND:KEY) or for all (--all-mine / --all-theirs)",
        ]
    )
    assert not plan.problems and not plan.ok
    assert [f"{s.kind}:{s.key}" for s in plan.conflicts] == ["segment:big-spenders"]
    assert plan.as_dict()["conflicts"] == ["segment:big-spenders"]


def test_an_upgrade_with_an_unsettled_conflict_writes_nothing(db, version_1_1):
    service.install(HELLO_SHOP)
    person_sets_threshold(1500)
    before = database_state()
    with pytest.raises(UnresolvedConflicts, match="segment big-spenders"):
        service.upgrade(version_1_1)
    assert_same_state(before, database_state())


def test_upgrading_with_the_packs_version_of_the_conflict(db, version_1_1):
    service.install(HELLO_SHOP)
    person_sets_threshold(1500)

    service.upgrade(version_1_1, resolutions={"segment:big-spenders": "theirs"})

    assert definitions.current("segment", "big-spenders").body["condition"]["value"] == 2000
    assert "phone" in definitions.current("object", "customer").body["properties"]
    assert definitions.current("segment", "newcomers").source_pack_version == "1.1.0"
    assert definitions.current("screen", "customers") is None  # archived
    assert Definition.objects.filter(kind="screen", key="customers", status=Status.ARCHIVED)
    assert InstalledPack.objects.get().version == "1.1.0"
    assert not InstalledDefinition.objects.filter(kind="screen").exists()
    log = PackLog.objects.filter(action="upgrade").get()
    assert (log.from_version, log.to_version) == ("1.0.0", "1.1.0")
    assert log.summary["steps"]["segment:big-spenders"] == "theirs"


def test_keeping_mine_and_the_next_upgrade_still_knows_it_is_mine(db, version_1_1, shop_copy):
    service.install(HELLO_SHOP)
    person_sets_threshold(1500)

    service.upgrade(version_1_1, resolutions={"segment:big-spenders": "mine"})
    assert definitions.current("segment", "big-spenders").body["condition"]["value"] == 1500
    base = InstalledDefinition.objects.get(kind="segment", key="big-spenders")
    assert base.body["condition"]["value"] == 2000  # the base is now what 1.1.0 delivered

    version_1_2 = shop_copy("hello-shop-1.2")
    edit_json(version_1_2 / "manifest.json", lambda m: m.update(version="1.2.0"))
    plan = service.plan(version_1_2, resolutions={"*": "mine"})
    # 1.2.0 = 1.0.0 again: the segment goes back to 1000 in the pack, which is a change of
    # the pack against a changed definition: still a conflict, never a silent overwrite
    step = next(s for s in plan.packs[0].steps if s.key == "big-spenders")
    assert step.action == "conflict"
    assert [str(c) for c in step.mine] == ["~ $.condition.value: 2000 -> 1500"]


def test_a_definition_changed_here_that_the_pack_did_not_change_is_kept(db, shop_copy):
    service.install(HELLO_SHOP)
    person_sets_threshold(1500)
    patch = shop_copy("patch")
    edit_json(patch / "manifest.json", lambda m: m.update(version="1.0.1"))
    edit_json(patch / CUSTOMER, lambda b: b["properties"].update(phone={"x-type": "phone"}))

    plan = service.plan(patch)
    step = next(s for s in plan.packs[0].steps if s.key == "big-spenders")
    assert step.action == "keep"
    assert step.reason == "changed here since 1.0.0; the pack did not change it: kept"
    assert plan.ok
    service.upgrade(patch)
    assert definitions.current("segment", "big-spenders").body["condition"]["value"] == 1500


def test_an_upgrade_carries_a_data_migration_for_an_object_change(db, shop_copy):
    service.install(HELLO_SHOP)
    rename = shop_copy("rename")

    def manifest(m):
        m["version"] = "2.0.0"
        m["migrations"] = [
            {
                "kind": "object",
                "key": "customer",
                "from": "<2",
                "migration": {"rename": {"city": "town"}},
            }
        ]

    def customer(body):
        body["properties"]["town"] = body["properties"].pop("city")

    edit_json(rename / "manifest.json", manifest)
    edit_json(rename / CUSTOMER, customer)

    plan = service.plan(rename)
    assert plan.ok, plan.render()
    step = next(s for s in plan.packs[0].steps if s.key == "customer")
    assert step.migration == {"rename": {"city": "town"}}
    assert "      data migration: {'rename': {'city': 'town'}}" in plan.render()

    service.upgrade(rename)

    towns = {
        r.data["name"]: r.data.get("town") for r in Record.objects.filter(object_key="customer")
    }
    assert towns == {"韩梅梅": "Hangzhou", "Li Lei": "Beijing", "Ana Silva": "Lisbon"}
    assert not any("city" in r.data for r in Record.objects.filter(object_key="customer"))
    assert RecordChange.objects.filter(action="migrate", object_key="customer").count() == 3
    published = definitions.current("object", "customer")
    assert (published.version, published.source_pack_version) == (2, "2.0.0")


def test_an_object_change_without_the_migration_it_needs_is_refused_by_the_plan(db, shop_copy):
    service.install(HELLO_SHOP)
    rename = shop_copy("rename")
    edit_json(rename / "manifest.json", lambda m: m.update(version="2.0.0"))
    edit_json(rename / CUSTOMER, lambda b: b["properties"].update(town=b["properties"].pop("city")))
    before = database_state()

    plan = service.plan(rename)

    (problem,) = plan.problems
    assert (problem.pack, problem.file, problem.path, problem.code) == (
        "hello-shop",
        CUSTOMER,
        "$",
        "publish_refused",
    )
    assert "would break 3 of 3 stored record(s)" in problem.message
    assert "city: 3 record(s)" in problem.message
    assert "manifest.json $.migrations" in problem.message
    assert_same_state(before, database_state())
    with pytest.raises(PackRefused):
        service.upgrade(rename)
    assert_same_state(before, database_state())


def test_a_migration_with_wrong_steps_is_named_in_the_manifest(db, shop_copy):
    service.install(HELLO_SHOP)
    rename = shop_copy("rename")

    def manifest(m):
        m["version"] = "2.0.0"
        m["migrations"] = [
            {
                "kind": "object",
                "key": "customer",
                "from": ">=1",
                "migration": {"rename": {"nope": "town"}},
            }
        ]

    edit_json(rename / "manifest.json", manifest)
    edit_json(rename / CUSTOMER, lambda b: b["properties"].update(town=b["properties"].pop("city")))
    plan = service.plan(rename)
    assert [(p.file, p.path, p.code) for p in plan.problems] == [
        ("manifest.json", "$.migrations[0].migration.rename.nope", "unknown_field")
    ]


def test_an_upgrade_outside_a_dependants_range_is_refused(db, shop_copy):
    service.install(HELLO_VIP)
    major = shop_copy("two")
    edit_json(major / "manifest.json", lambda m: m.update(version="2.0.0"))
    with pytest.raises(PackRefused) as refused:
        service.upgrade(major)
    (problem,) = refused.value.problems
    assert problem.code == "breaks_dependant"
    assert problem.message == (
        "hello-vip 1.0.0 needs hello-shop >=1.0,<2; 2.0.0 is outside that range: uninstall "
        "hello-vip first, or upgrade when a version of hello-vip accepts it"
    )


def test_upgrade_needs_a_newer_version_of_an_installed_pack(db, shop_copy):
    with pytest.raises(PackRefused, match="hello-shop is not installed; install it"):
        service.upgrade(HELLO_SHOP)
    service.install(HELLO_SHOP)
    with pytest.raises(PackRefused, match="is not newer"):
        service.upgrade(HELLO_SHOP)


def test_a_definition_archived_here_and_changed_by_the_pack_is_a_conflict(db, version_1_1):
    service.install(HELLO_SHOP)
    definitions.archive("segment", "big-spenders")
    plan = service.plan(version_1_1)
    step = next(s for s in plan.packs[0].steps if s.key == "big-spenders")
    assert (step.action, step.reason) == (
        "conflict",
        "archived here since 1.0.0, and the pack changed it",
    )


def test_removing_an_object_with_records_archives_it_and_keeps_them(db, shop_copy):
    service.install(HELLO_SHOP)
    smaller = shop_copy("smaller")

    def manifest(m):
        m["version"] = "1.1.0"
        m["definitions"] = {
            "object": ["customer"],
            "segment": ["big-spenders"],
            "screen": ["customers"],
        }
        m["sample_data"] = m["sample_data"][:1]

    edit_json(smaller / "manifest.json", manifest)
    (smaller / "definitions/object/order.json").unlink()
    (smaller / "sample/orders.jsonl").unlink()

    plan = service.plan(smaller)
    step = next(s for s in plan.packs[0].steps if s.key == "order")
    assert step.reason == "no longer in the pack: archived; its 3 record(s) are kept"
    service.upgrade(smaller)
    assert definitions.current("object", "order") is None
    assert Record.objects.filter(object_key="order").count() == 3
