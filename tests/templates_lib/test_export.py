"""Export: definitions of a running instance become a pack, dependencies and data included,
that installs elsewhere into the same definitions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile

import pytest

from templates_lib import service
from templates_lib.models import InstalledDefinition
from templates_lib.problems import PackRefused
from tessera.definitions import service as definitions
from tessera.records import service as records
from tests.conftest import CUSTOMER, ORDER

from .conftest import HELLO_SHOP, ROOT, read_json, scratch_env

GOLD = {"object": "customer", "condition": {"field": "level", "op": "eq", "value": "gold"}}
BOARD = {
    "x-label": {"en": "Gold customers", "zh": "金卡客户"},
    "blocks": [{"type": "table", "object": "order"}, {"type": "kanban", "segment": "gold"}],
}

PROBE = """
import json, django
django.setup()
from tessera.definitions.models import Definition, Status
from tessera.records.models import Record
from templates_lib.models import InstalledPack
print(json.dumps({
    "definitions": {f"{d.kind}:{d.key}": d.body
                    for d in Definition.objects.filter(status=Status.PUBLISHED)},
    "records": [[r.object_key, r.data] for r in Record.objects.order_by("pk")],
    "packs": [[p.key, p.version] for p in InstalledPack.objects.all()],
}, sort_keys=True))
"""


def other_instance(tmp_path, migrated_sqlite):
    """Run manage.py (or a probe) against a second, empty SQLite database."""
    shutil.copyfile(migrated_sqlite, tmp_path / "other.sqlite3")
    env = scratch_env(tmp_path / "other.sqlite3", tmp_path / "var")

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    return run


def test_export_from_one_database_and_install_into_another(
    db, tmp_path, publish_object, migrated_sqlite
):
    publish_object("customer", CUSTOMER)
    publish_object("order", ORDER)
    definitions.save_and_publish("segment", "gold", GOLD)
    definitions.save_and_publish("screen", "gold-board", BOARD)
    meimei = records.create("customer", {"name": "韩梅梅", "level": "gold", "city": "杭州"})
    lilei = records.create("customer", {"name": "Li Lei", "level": "silver"})
    order = records.create("order", {"customer": meimei.pk, "total": 399, "status": "paid"})
    records.add_event(order, "order_paid", {"channel": "tmall"})

    exported = service.export(
        tmp_path / "moved.zip",
        key="gold-crm",
        version="1.0.0",
        refs=[("screen", "gold-board")],
        name={"en": "Gold CRM", "zh": "金卡客户管理"},
        with_data=True,
    )

    manifest = exported.manifest
    assert manifest["definitions"] == {
        "object": ["customer", "order"],
        "screen": ["gold-board"],
        "segment": ["gold"],
    }
    assert sorted(exported.added) == [
        ("object", "customer"),
        ("object", "order"),
        ("segment", "gold"),
    ]
    assert "depends" not in manifest and "plugins" not in manifest
    assert manifest["sample_data"] == [
        {"object": "customer", "file": "sample/customer.jsonl"},
        {"object": "order", "file": "sample/order.jsonl"},
    ]
    with zipfile.ZipFile(exported.location) as archive:
        rows = [json.loads(line) for line in archive.read("sample/order.jsonl").splitlines()]
    assert rows == [
        {
            "ref": f"order-{order.pk}",
            "data": {"customer": {"ref": f"customer-{meimei.pk}"}, "total": 399, "status": "paid"},
            "events": [
                {
                    "type": "order_paid",
                    "payload": {"channel": "tmall"},
                    "at": rows[0]["events"][0]["at"],
                }
            ],
        }
    ]

    run = other_instance(tmp_path, migrated_sqlite)
    run("manage.py", "migrate", "--noinput", "-v", "0")
    installed = run("manage.py", "pack", "install", str(exported.location))
    assert "installed gold-crm 1.0.0" in installed.stdout
    there = json.loads(run("-c", PROBE).stdout.strip().splitlines()[-1])

    here = {
        f"{kind}:{key}": definitions.current(kind, key).body
        for kind, key in [
            ("object", "customer"),
            ("object", "order"),
            ("segment", "gold"),
            ("screen", "gold-board"),
        ]
    }
    assert there["definitions"] == here
    assert there["packs"] == [["gold-crm", "1.0.0"]]
    by_object: dict[str, list] = {}
    for object_key, data in there["records"]:
        by_object.setdefault(object_key, []).append(data)
    assert sorted(d["name"] for d in by_object["customer"]) == sorted(
        [meimei.data["name"], lilei.data["name"]]
    )
    (moved_order,) = by_object["order"]
    assert {k: v for k, v in moved_order.items() if k != "customer"} == {
        "total": 399,
        "status": "paid",
    }


def test_an_export_names_the_packs_it_depends_on(db, tmp_path):
    service.install(HELLO_SHOP)
    hangzhou = {
        "object": "customer",
        "condition": {"field": "city", "op": "eq", "value": "Hangzhou"},
    }
    definitions.save_and_publish("segment", "from-hangzhou", hangzhou)

    exported = service.export(
        tmp_path / "hz", key="hangzhou", version="0.1.0", refs=[("segment", "from-hangzhou")]
    )

    assert exported.manifest["depends"] == {"hello-shop": ">=1.0.0,<2"}
    assert exported.manifest["definitions"] == {"segment": ["from-hangzhou"]}
    assert read_json(tmp_path / "hz" / "definitions/segment/from-hangzhou.json") == hangzhou
    # installing it here adopts the identical segment: from now on the pack owns it
    plan = service.plan(tmp_path / "hz")
    assert "  = segment from-hangzhou: already here, identical: the pack takes it over" in (
        plan.render()
    )
    service.install(tmp_path / "hz")
    assert InstalledDefinition.objects.get(key="from-hangzhou").pack.key == "hangzhou"
    with pytest.raises(PackRefused, match=r"hangzhou 0\.1\.0 depends on hello-shop"):
        service.uninstall("hello-shop")


def test_a_whole_installed_pack_exports_as_a_new_version(db, tmp_path):
    service.install(HELLO_SHOP)
    exported = service.export(
        tmp_path / "again", key="hello-shop", version="1.0.1", pack="hello-shop"
    )
    assert (
        exported.manifest["definitions"] == read_json(HELLO_SHOP / "manifest.json")["definitions"]
    )
    assert "depends" not in exported.manifest  # its own definitions are not a dependency
    assert service.plan(tmp_path / "again").ok


def test_export_refusals_name_what_is_wrong(db, tmp_path, publish_object):
    publish_object("customer", CUSTOMER)
    definitions.save_and_publish("segment", "gold", GOLD)
    with pytest.raises(
        PackRefused, match="segment gold refers to object customer, which is neither"
    ):
        service.export(
            tmp_path / "a",
            key="a",
            version="1.0.0",
            refs=[("segment", "gold")],
            include_references=False,
        )
    with pytest.raises(PackRefused, match="segment nothing is not published"):
        service.export(tmp_path / "b", key="b", version="1.0.0", refs=[("segment", "nothing")])
    with pytest.raises(PackRefused, match="nothing to export"):
        service.export(tmp_path / "c", key="c", version="1.0.0")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("")
    with pytest.raises(PackRefused, match="is not empty"):
        service.export(tmp_path / "d", key="d", version="1.0.0", refs=[("segment", "gold")])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
