"""Installing packs: dependencies first, one transaction, what was installed recorded.

The example packs (templates_lib/examples/hello-shop and hello-vip, the ones docs/packs.md
walks through) go into an empty database; installs made to fail late leave every table
exactly as it was.
"""

from __future__ import annotations

import json

import pytest

from templates_lib import service
from templates_lib.models import InstalledDefinition, InstalledPack, InstalledRecord, PackLog
from templates_lib.problems import PackRefused
from templates_lib.service import UnresolvedConflicts
from tessera.definitions import service as definitions
from tessera.definitions.models import Definition, Source, Status
from tessera.records import service as records
from tessera.records.indexes import existing_index_names
from tessera.records.models import Event, Record
from tessera.segments import service as segments

from .conftest import (
    EXAMPLES,
    HELLO_SHOP,
    HELLO_VIP,
    ROOT,
    assert_same_state,
    database_state,
    edit_json,
    read_json,
)


def test_a_pack_and_its_dependency_install_into_an_empty_database(db):
    assert not Definition.objects.exists() and not Record.objects.exists()

    done = service.install(HELLO_VIP)

    assert [(p.key, p.mode, p.reason) for p in done.packs] == [
        ("hello-shop", "install", "needed by hello-vip"),
        ("hello-vip", "install", "requested"),
    ]
    packs = {p.key: p for p in InstalledPack.objects.all()}
    assert {k: p.version for k, p in packs.items()} == {"hello-shop": "1.0.0", "hello-vip": "1.0.0"}
    assert packs["hello-vip"].depends == {"hello-shop": ">=1.0,<2"}
    owned = set(InstalledDefinition.objects.values_list("pack__key", "kind", "key"))
    assert owned == {
        ("hello-shop", "object", "customer"),
        ("hello-shop", "object", "order"),
        ("hello-shop", "segment", "big-spenders"),
        ("hello-shop", "screen", "customers"),
        ("hello-vip", "segment", "vip"),
        ("hello-vip", "screen", "vip-board"),
    }
    for pack, kind, key in owned:
        published = definitions.current(kind, key)
        assert published.version == 1
        assert (published.source, published.source_pack, published.source_pack_version) == (
            Source.PACK,
            pack,
            "1.0.0",
        )
        assert not Definition.objects.filter(kind=kind, key=key, status=Status.DRAFT).exists()
    assert existing_index_names("customer")  # the object kind's publish step ran

    # sample data: relations resolved from refs, events added, refs recorded
    customers = {r.data["name"]: r for r in Record.objects.filter(object_key="customer")}
    assert set(customers) == {"韩梅梅", "Li Lei", "Ana Silva"}
    orders = Record.objects.filter(object_key="order").order_by("pk")
    assert [o.data["customer"] for o in orders] == [
        customers["韩梅梅"].pk,
        customers["Li Lei"].pk,
        customers["Ana Silva"].pk,
    ]
    assert Event.objects.get(type="signed_up").subject == customers["韩梅梅"]
    assert InstalledRecord.objects.filter(pack__key="hello-shop").count() == 5  # 3 + 2 with refs
    # segments were published after the sample data, so their members are counted
    assert {r.data["name"] for r in segments.members("big-spenders")} == {"韩梅梅", "Ana Silva"}
    assert {r.data["name"] for r in segments.members("vip")} == {"韩梅梅"}
    assert list(PackLog.objects.order_by("id").values_list("pack_key", "action", "to_version")) == [
        ("hello-shop", "install", "1.0.0"),
        ("hello-vip", "install", "1.0.0"),
    ]


def test_an_installed_dependency_in_range_is_used_as_it_is(db):
    service.install(HELLO_SHOP)
    plan = service.plan(HELLO_VIP)
    assert plan.ok
    assert [(p.key, p.mode) for p in plan.packs] == [
        ("hello-shop", "installed"),
        ("hello-vip", "install"),
    ]
    assert "keep hello-shop 1.0.0, installed (needed by hello-vip)" in plan.render()
    service.install(HELLO_VIP)
    assert PackLog.objects.filter(pack_key="hello-shop").count() == 1


def test_a_dependency_installed_at_a_version_out_of_range_is_a_clear_refusal(db, make_pack):
    service.install(HELLO_SHOP)
    needs_two = make_pack(
        "needs-two",
        {"key": "needs-two", "version": "1.0.0", "depends": {"hello-shop": ">=2.0,<3"}},
        {
            ("segment", "rich"): {
                "object": "customer",
                "condition": {"field": "total_spent", "op": "gte", "value": 5000},
            }
        },
    )
    before = database_state()
    with pytest.raises(PackRefused) as refused:
        service.install(needs_two)
    (problem,) = refused.value.problems
    assert (problem.pack, problem.file, problem.path, problem.code) == (
        "needs-two",
        "manifest.json",
        "$.depends['hello-shop']",
        "version_conflict",
    )
    assert "needs hello-shop <3,>=2.0, but hello-shop 1.0.0 is installed" in problem.message
    assert "upgrade hello-shop" in problem.message
    assert_same_state(before, database_state())


def test_a_missing_dependency_is_named_with_the_range_and_where_it_was_looked_for(db, make_pack):
    lonely = make_pack(
        "lonely",
        {"key": "lonely", "version": "0.1.0", "depends": {"no-such-pack": ">=1"}},
        {("screen", "s"): {"blocks": [{"type": "table"}]}},
    )
    plan = service.plan(lonely)
    (problem,) = plan.problems
    assert problem.code == "missing_dependency"
    assert "lonely needs no-such-pack >=1; no such pack was found" in problem.message
    assert str(lonely.parent) in problem.message
    assert not InstalledPack.objects.exists()


def test_dependencies_resolve_from_the_library_choosing_the_newest_in_range(
    db, tmp_path, shop_copy
):
    newer = shop_copy("shop-1.5")
    edit_json(newer / "manifest.json", lambda m: m.update(version="1.5.0"))
    too_new = shop_copy("shop-2")
    edit_json(too_new / "manifest.json", lambda m: m.update(version="2.0.0"))
    plan = service.plan(HELLO_VIP, library=[tmp_path])
    assert [(p.key, p.version) for p in plan.packs] == [
        ("hello-shop", "1.5.0"),
        ("hello-vip", "1.0.0"),
    ]


def test_two_packs_asking_incompatible_ranges_of_one_dependency_are_refused(db, make_pack):
    make_pack("a", {"key": "a", "version": "1.0.0", "depends": {"hello-shop": ">=1,<2"}}, {})
    b = make_pack(
        "b",
        {"key": "b", "version": "1.0.0", "depends": {"a": ">=1", "hello-shop": ">=3"}},
        {},
    )
    plan = service.plan(b, library=[EXAMPLES])
    (problem,) = plan.problems
    assert (problem.pack, problem.path, problem.code) == (
        "b",
        "$.depends['hello-shop']",
        "version_conflict",
    )
    assert problem.message == (
        "no version of hello-shop satisfies every pack: a needs <2,>=1; b needs >=3 (chosen 1.0.0)"
    )


def test_installing_twice_or_an_older_version_is_refused(db, shop_copy):
    service.install(HELLO_SHOP)
    with pytest.raises(PackRefused, match=r"hello-shop 1\.0\.0 is installed; nothing to install"):
        service.install(HELLO_SHOP)
    older = shop_copy("old")
    edit_json(older / "manifest.json", lambda m: m.update(version="0.9.0"))
    with pytest.raises(PackRefused, match="packs are not downgraded"):
        service.install(older)


def test_a_pack_for_another_tessera_version_is_refused(db, shop_copy):
    future = shop_copy("future")
    edit_json(future / "manifest.json", lambda m: m.update(tessera=">=5"))
    with pytest.raises(PackRefused) as refused:
        service.install(future)
    (problem,) = refused.value.problems
    assert (problem.path, problem.code) == ("$.tessera", "tessera_version")
    assert "runs on Tessera >=5; this is Tessera 0.1.0" in problem.message


def test_a_definition_that_exists_here_is_a_conflict_settled_by_mine_or_theirs(db, publish_object):
    mine = read_json(HELLO_SHOP / "definitions" / "object" / "customer.json")
    mine["properties"]["vip"] = {"x-type": "boolean"}
    publish_object("customer", mine)
    plan = service.plan(HELLO_SHOP)
    (conflict,) = plan.conflicts
    assert (conflict.kind, conflict.key) == ("object", "customer")
    assert "already exists here and was not installed by a pack" in conflict.reason
    assert [str(c) for c in conflict.mine] == ['+ $.properties.vip: {"x-type": "boolean"}']
    with pytest.raises(UnresolvedConflicts):
        service.install(HELLO_SHOP)
    assert not InstalledPack.objects.exists()

    service.install(HELLO_SHOP, resolutions={"object:customer": "mine"}, sample=False)
    assert definitions.current("object", "customer").body == mine
    owned = InstalledDefinition.objects.get(kind="object", key="customer")
    assert owned.pack.key == "hello-shop" and "vip" not in owned.body["properties"]  # the base


def test_the_plan_rehearses_the_writes_so_a_kept_version_that_breaks_the_pack_shows(
    db, publish_object
):
    publish_object("customer", {"properties": {"name": {"x-type": "string"}}})
    plan = service.plan(HELLO_SHOP, resolutions={"object:customer": "mine"})
    (problem,) = plan.problems
    assert (problem.file, problem.path, problem.code) == (
        "definitions/segment/big-spenders.json",
        "$.condition.field",
        "unknown_field",
    )
    assert "customer has no field 'total_spent'" in problem.message
    assert not InstalledPack.objects.exists() and not definitions.current("segment", "big-spenders")


def test_taking_the_packs_version_of_an_existing_definition(db, publish_object):
    publish_object("customer", {"properties": {"name": {"x-type": "string"}}})
    records.create("customer", {"name": "Existing"})
    service.install(HELLO_SHOP, resolutions={"*": "theirs"})
    published = definitions.current("object", "customer")
    assert published.version == 2 and published.source_pack == "hello-shop"
    assert Record.objects.filter(object_key="customer").count() == 4


def test_an_install_failing_at_its_last_step_leaves_no_row_behind(db, monkeypatch):
    """The very last write of the install (the log line of the last pack) fails."""
    before = database_state()
    real_create = PackLog.objects.create

    def fail_on_the_last(**kwargs):
        if kwargs["pack_key"] == "hello-vip":
            raise RuntimeError("disk full at the last step")
        return real_create(**kwargs)

    monkeypatch.setattr(PackLog.objects, "create", fail_on_the_last)
    with pytest.raises(RuntimeError, match="disk full"):
        service.install(HELLO_VIP)
    monkeypatch.undo()
    assert_same_state(before, database_state())
    # and the same install then goes through
    service.install(HELLO_VIP)
    assert InstalledPack.objects.count() == 2


def test_a_bad_last_sample_row_leaves_no_row_behind(db, shop_copy):
    broken = shop_copy("broken")
    with (broken / "sample" / "orders.jsonl").open("a") as rows:
        rows.write('{"data": {"customer": {"ref": "lilei"}, "total": "a lot"}}\n')
    before = database_state()
    with pytest.raises(PackRefused) as refused:
        service.install(broken)
    (problem,) = refused.value.problems
    assert (problem.file, problem.line, problem.path) == ("sample/orders.jsonl", 4, "$.data.total")
    assert_same_state(before, database_state())


def test_a_sample_row_pointing_at_an_unknown_ref_names_file_line_and_path(db, shop_copy):
    broken = shop_copy("broken")
    (broken / "sample" / "orders.jsonl").write_text(
        '{"data": {"customer": {"ref": "nobody"}, "total": 1}}\n'
    )
    before = database_state()
    with pytest.raises(PackRefused) as refused:
        service.install(broken)
    (problem,) = refused.value.problems
    assert (problem.file, problem.line, problem.path, problem.code) == (
        "sample/orders.jsonl",
        1,
        "$.data.customer",
        "unknown_ref",
    )
    assert_same_state(before, database_state())


def test_install_without_sample_data(db):
    service.install(HELLO_SHOP, sample=False)
    assert not Record.objects.exists()
    assert segments.count("big-spenders") == 0


def test_sample_rows_may_point_at_a_dependencys_rows(db, make_pack):
    service.install(HELLO_SHOP)
    tickets = make_pack(
        "tickets",
        {
            "key": "tickets",
            "version": "1.0.0",
            "depends": {"hello-shop": ">=1"},
            "sample_data": [{"object": "ticket", "file": "sample/tickets.json"}],
        },
        {
            ("object", "ticket"): {
                "properties": {
                    "subject": {"x-type": "string"},
                    "customer": {"x-type": "relation", "x-relation": {"object": "customer"}},
                }
            }
        },
        {
            "sample/tickets.json": json.dumps(
                [{"data": {"subject": "Late", "customer": {"ref": "hello-shop:lilei"}}}]
            )
        },
    )
    service.install(tickets)
    ticket = Record.objects.get(object_key="ticket")
    assert Record.objects.get(pk=ticket.data["customer"]).data["name"] == "Li Lei"


def test_a_sample_generator_feeds_large_data_with_progress(db, make_pack):
    from templates_lib.sample import generators

    class Counting:
        type = "people"

        def count(self, options):
            return options["n"]

        def rows(self, options):
            for i in range(options["n"]):
                yield {
                    "object": "person",
                    "ref": f"p{i}",
                    "data": {"name": f"P{i}", "boss": {"ref": "p0"}} if i else {"name": "P0"},
                }

    class Seen:
        def __init__(self):
            self.started, self.done = [], 0

        def start(self, label, total):
            self.started.append((label, total))

        def advance(self, count=1):
            self.done += count

    pack = make_pack(
        "people",
        {
            "key": "people",
            "version": "1.0.0",
            "sample_data": [{"generator": "people", "options": {"n": 300}}],
        },
        {
            ("object", "person"): {
                "properties": {
                    "name": {"x-type": "string"},
                    "boss": {"x-type": "relation", "x-relation": {"object": "person"}},
                }
            }
        },
    )
    plan = service.plan(pack)
    assert plan.ok
    assert plan.packs[0].sample == ["generator people"]
    seen = Seen()
    with generators.register_temporarily(Counting()):
        service.install(pack, progress=seen)
    assert seen.started == [("generator people", 300)] and seen.done == 300
    assert Record.objects.filter(object_key="person").count() == 300
    boss = Record.objects.get(object_key="person", data__name="P0")
    assert Record.objects.filter(object_key="person", data__boss=boss.pk).count() == 299


def test_an_unknown_generator_is_named(db, make_pack):
    pack = make_pack(
        "nogen",
        {"key": "nogen", "version": "1.0.0", "sample_data": [{"generator": "nothing-here"}]},
        {("object", "thing"): {"properties": {"name": {"x-type": "string"}}}},
    )
    before = database_state()
    with pytest.raises(PackRefused) as refused:
        service.install(pack)
    (problem,) = refused.value.problems
    assert (problem.file, problem.path, problem.code) == (
        "manifest.json",
        "$.sample_data[0].generator",
        "unknown_generator",
    )
    assert_same_state(before, database_state())


def test_kinds_registered_by_other_layers_install_in_dependency_order(db, make_pack):
    """The workflow and calendar of docs/workflows.md as a pack: the installer knows no kind.

    The manifest lists the workflow first; it is published after the object and the
    calendar it names, through the same service and the kinds' own checks.
    """
    examples = ROOT / "docs" / "examples" / "workflows"
    files = {
        name: read_json(examples / f"{name}.json") for name in ("returns", "ticket", "cn-office")
    }
    pack = make_pack(
        "service",
        {
            "key": "service",
            "version": "1.0.0",
            "definitions": {
                "workflow": ["returns"],
                "calendar": ["cn-office"],
                "object": ["ticket"],
            },
        },
        {(f["kind"], f["key"]): f["body"] for f in files.values()},
    )
    plan = service.plan(pack)
    assert plan.ok, plan.render()
    assert [(s.kind, s.key) for s in plan.packs[0].steps] == [
        ("object", "ticket"),
        ("calendar", "cn-office"),
        ("workflow", "returns"),
    ]
    service.install(pack)
    for document in files.values():
        published = definitions.current(document["kind"], document["key"])
        assert published.body == document["body"] and published.source_pack == "service"


def test_a_reference_nothing_provides_is_named_by_file_and_path(db, make_pack):
    lost = make_pack(
        "lost",
        {"key": "lost", "version": "1.0.0"},
        {
            ("screen", "board"): {
                "blocks": [{"type": "table", "object": "ticket"}, {"type": "kpi", "segment": "vip"}]
            }
        },
    )
    plan = service.plan(lost)
    assert [(p.file, p.path, p.code) for p in plan.problems] == [
        ("definitions/screen/board.json", "$.blocks[0].object", "unknown_reference"),
        ("definitions/screen/board.json", "$.blocks[1].segment", "unknown_reference"),
    ]
    assert plan.problems[0].message == (
        "object 'ticket' is not in this pack, nor in the packs it depends on, nor published here"
    )
