"""docs/importing.md: its examples run as the page says (the object files publish, the CSV
imports with the report shown, the GBK copy too, the order system's script talks to a live
server, duplicates merge and unmerge, the export leaves out what a role may not read)."""

from __future__ import annotations

import io
import json
import runpy
import time
from pathlib import Path

from django.core.management import call_command

from tessera.exchange import dedup, ingest, merge
from tessera.records.history import history
from tessera.records.models import Event, Record, RecordChange

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples" / "importing"
PAGE = (ROOT / "docs" / "importing.md").read_text(encoding="utf-8")


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def publish() -> None:
    files = [str(EXAMPLES / "customer.json"), str(EXAMPLES / "order.json")]
    out = io.StringIO()
    call_command("definitions", "load", *files, "--publish", stdout=out, stderr=io.StringIO())
    assert "published object customer v1" in out.getvalue()


def test_the_csv_example_imports_as_the_page_shows(db, tmp_path):
    publish()
    path = str(EXAMPLES / "customers.csv")
    dry = run("import", path, "--object", "customer", "--key", "phone", "--dry-run")
    for line in [
        "mapping (suggested): 姓名 → name, 手机 → phone, 邮箱 → email, 城市 → city, "
        "生日 → birthday, 会员等级 → level, 积分 → points, 累计消费 → total_spent",
        "not imported: 备注",
        "dry run: 4 rows; would create 3, update 0, leave 0 unchanged, reject 1",
    ]:
        assert line in dry and line in PAGE, line
    for reason in ["'1988/2/30' is not a real date or time", "'钻石卡' is not one of the options"]:
        assert reason in dry and reason in PAGE
    assert Record.objects.count() == 0

    rejected = tmp_path / "rejected.csv"
    done = run(
        "import", path, "--object", "customer", "--key", "phone", "--rejected", str(rejected)
    )
    assert "3 created, 0 updated, 0 unchanged, 1 rejected" in done
    meimei = Record.objects.get(data__name="韩梅梅").data
    shown = json.loads(PAGE.split("<!-- stored -->")[1].split("```json")[1].split("```")[0])
    assert meimei == shown
    # **History.**: no create row stored, yet the history begins with the imported values
    first = history(Record.objects.get(data__name="韩梅梅").pk)[0]
    assert (first.action, first.version) == ("create", 1) and "`create` at version 1" in PAGE
    assert first.changes == {name: [None, value] for name, value in sorted(shown.items())}
    assert first.comment.startswith("import #") and not RecordChange.objects.exists()
    again = run(
        "import", str(EXAMPLES / "customers-gbk.csv"), "--object", "customer", "--key", "phone"
    )
    assert "0 created, 0 updated, 3 unchanged, 1 rejected" in again
    assert "0 created, 0 updated, 3 unchanged, 1 rejected" in PAGE


def test_the_order_system_example_talks_to_a_live_server(db, live_server):
    publish()
    source, key = ingest.create_source("shop", ["customer", "order"], name="Shop OMS")
    source.timezone = "Asia/Shanghai"
    source.save()
    send = runpy.run_path(str(EXAMPLES / "send.py"))["send"]

    def items(name):
        return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))

    first = send(live_server.url, "shop", key, "customer", items("customers.json"))
    assert first.status_code == 200 and first.json()["counts"] == {"created": 1}
    orders = send(live_server.url, "shop", key, "order", items("orders.json"))
    assert orders.json()["counts"] == {"created": 2}
    shipped = send(live_server.url, "shop", key, "order", items("order-shipped.json"))
    assert shipped.status_code == 200
    shown = json.loads(PAGE.split("<!-- shipped -->")[1].split("```json")[1].split("```")[0])
    assert {**shipped.json(), "record": 0} == {**shown, "record": 0}
    order = Record.objects.get(pk=shipped.json()["record"])
    timeline = list(
        Event.objects.filter(subject=order).order_by("id").values_list("type", flat=True)
    )
    assert timeline == ["status_changed", "status_changed", "parcel_scanned"]
    replay = send(live_server.url, "shop", key, "order", items("order-shipped.json"))
    if replay.status_code == 409:  # the same second: the same signature, a replay
        time.sleep(1.1)
        replay = send(live_server.url, "shop", key, "order", items("order-shipped.json"))
    assert replay.json()["status"] == "unchanged"


def test_the_dedup_example_merges_and_unmerges(db):
    publish()
    run("import", str(EXAMPLES / "customers.csv"), "--object", "customer", "--key", "phone")
    from tessera.records import service as records

    twin = records.create(
        "customer", {"name": "韩 梅梅", "city": "杭州", "phone": "+8613800000001"}
    )
    meimei = Record.objects.get(data__name="韩梅梅")
    found = dedup.find("customer")
    assert [(c.first_id, c.second_id, c.reason) for c in found] == [
        (meimei.pk, twin.pk, "name+city")
    ]
    done = merge.merge("customer", meimei.pk, twin.pk, rules={"points": "sum"})
    assert not Record.objects.filter(pk=twin.pk).exists()
    merge.unmerge(done)
    assert Record.objects.filter(pk=twin.pk).exists()
