"""``manage.py pack``: every action, its messages and its exit codes."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from templates_lib.models import InstalledPack
from tessera.definitions import service as definitions
from tessera.records.models import Record

from .conftest import EXAMPLES, HELLO_SHOP, HELLO_VIP, ROOT, edit_json, read_json, scratch_env


def pack(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("pack", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("pack", *args, stdout=out, stderr=err)
    return caught.value.returncode, str(caught.value), out.getvalue() + err.getvalue()


def test_plan_install_list_and_uninstall(db):
    out, _ = pack("plan", str(HELLO_VIP))
    assert out.splitlines()[:2] == [
        "install hello-shop 1.0.0 (needed by hello-vip)",
        "  + object customer",
    ]

    out, _ = pack("install", str(HELLO_VIP))
    assert out.strip().splitlines()[-1] == "installed hello-shop 1.0.0, hello-vip 1.0.0"
    # the progress bar of the sample data, one per file
    assert "customer from sample/customers.jsonl" in out and "3/3" in out

    out, _ = pack("list", "--available", "--from", str(EXAMPLES))
    lines = out.splitlines()
    builtin = [line for line in lines if line.startswith("  ") and "/examples/" not in line]
    assert builtin  # the built-in CRM packs are available too
    assert [line for line in lines if line not in builtin] == [
        "hello-shop 1.0.0  Hello shop  (4 definitions)",
        "hello-vip 1.0.0  Hello VIP  (2 definitions)",
        "available:",
        f"  hello-shop 1.0.0  {HELLO_SHOP}",
        f"  hello-vip 1.0.0  {HELLO_VIP}",
    ]

    code, message, text = refused("uninstall", "hello-shop")
    assert code == 1 and message == "refused: 1 problem(s); nothing was written"
    assert "hello-shop: $: hello-vip 1.0.0 depends on hello-shop: uninstall hello-vip first" in text

    out, _ = pack("uninstall", "hello-vip", "--dry-run")
    assert out.splitlines() == [
        "uninstall hello-vip 1.0.0",
        "  - screen vip-board: archived",
        "  - segment vip: archived",
    ]
    assert InstalledPack.objects.count() == 2
    out, _ = pack("uninstall", "hello-vip")
    assert out.strip().endswith("uninstalled hello-vip")
    pack("uninstall", "hello-shop", "--delete-data")
    assert not Record.objects.exists()
    assert pack("list")[0] == "no packs installed\n"


def test_a_pack_is_named_by_key_from_a_library_folder(db):
    out, _ = pack("install", "hello-vip", "--from", str(EXAMPLES), "--no-sample")
    assert "installed hello-shop 1.0.0, hello-vip 1.0.0" in out
    assert not Record.objects.exists()
    code, message, _ = refused("install", "no-such-pack")
    assert code == 1 and "refused" in message


def test_upgrade_conflicts_exit_3_until_settled(db, shop_copy):
    pack("install", str(HELLO_SHOP))
    body = definitions.current("segment", "big-spenders").body
    body["condition"]["value"] = 1500
    definitions.save_and_publish("segment", "big-spenders", body)
    newer = shop_copy("1.1")
    edit_json(newer / "manifest.json", lambda m: m.update(version="1.1.0"))
    edit_json(
        newer / "definitions/segment/big-spenders.json",
        lambda b: b["condition"].update(value=2000),
    )

    code, message, text = refused("plan", str(newer))
    assert code == 3 and message == "1 conflict(s) to settle first"
    assert "  ! segment big-spenders: changed here since 1.0.0" in text

    code, message, text = refused("upgrade", str(newer))
    assert code == 3
    assert message == "choose whose version wins for: segment big-spenders; nothing was written"

    out, _ = pack("plan", str(newer), "--mine", "segment:big-spenders", "--json")
    plan = json.loads(out)
    assert plan["ok"] and plan["conflicts"] == []
    assert plan["packs"][0]["steps"][2]["resolution"] == "mine"

    out, _ = pack("upgrade", str(newer), "--theirs", "segment:big-spenders")
    assert out.strip().endswith("upgraded hello-shop 1.1.0")
    assert definitions.current("segment", "big-spenders").body["condition"]["value"] == 2000

    code, message, _ = refused("plan", str(newer), "--mine", "big-spenders")
    assert code == 2 and "is not KIND:KEY" in message


def test_export_writes_a_pack_that_plans_cleanly(db, tmp_path):
    pack("install", str(HELLO_SHOP))
    definitions.save_and_publish(
        "segment",
        "from-hangzhou",
        {"object": "customer", "condition": {"field": "city", "op": "eq", "value": "Hangzhou"}},
    )
    out, _ = pack(
        "export", str(tmp_path / "hz.zip"), "segment:from-hangzhou", "--key", "hangzhou",
        "--version", "0.2.0", "--name-en", "Hangzhou", "--name-zh", "杭州",
    )  # fmt: skip
    assert out.splitlines() == [
        f"exported 1 definition(s) as hangzhou 0.2.0 to {tmp_path / 'hz.zip'}",
        "  depends on hello-shop >=1.0.0,<2",
    ]
    out, _ = pack("plan", str(tmp_path / "hz.zip"))
    assert "install hangzhou 0.2.0 (requested)" in out


def test_refusals_print_every_problem_with_file_and_path(db, shop_copy):
    broken = shop_copy("broken")
    edit_json(broken / "definitions/segment/big-spenders.json", lambda b: b.pop("condition"))
    edit_json(broken / "definitions/screen/customers.json", lambda b: b.update(blocks="none"))
    code, message, text = refused("install", str(broken))
    assert (code, message) == (1, "refused: 2 problem(s); nothing was written")
    assert sorted(text.splitlines()) == [
        "hello-shop/definitions/screen/customers.json: $.blocks: 'none' is not of type 'array' "
        "[type]",
        "hello-shop/definitions/segment/big-spenders.json: $: 'condition' is a required "
        "property [required]",
    ]


def test_the_process_exit_codes(tmp_path, shop_copy, migrated_sqlite):
    """The codes a shell sees: a real manage.py process against a scratch database."""
    shutil.copyfile(migrated_sqlite, tmp_path / "cli.sqlite3")
    env = scratch_env(tmp_path / "cli.sqlite3", tmp_path / "var")

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
        )  # fmt: skip

    assert manage("migrate", "--noinput", "-v", "0").returncode == 0
    broken = shop_copy("broken")
    (broken / "stray.txt").write_text("?")
    done = manage("pack", "plan", str(broken))
    assert done.returncode == 1, done.stderr
    assert "hello-shop/stray.txt: $: not part of a pack" in done.stdout + done.stderr
    assert manage("pack", "install", str(HELLO_SHOP)).returncode == 0
    assert manage("pack", "badverb").returncode == 2
    assert read_json(HELLO_SHOP / "manifest.json")["version"] == "1.0.0"


def test_install_ensure_installs_upgrades_or_does_nothing(db, shop_copy):
    """What a start-up script runs every time: the same command, whatever is installed."""
    out, _ = pack("install", "--ensure", str(HELLO_SHOP))
    assert out.strip().endswith("installed hello-shop 1.0.0")
    out, _ = pack("install", "--ensure", str(HELLO_SHOP))
    assert out.strip().splitlines() == [
        "keep hello-shop 1.0.0, installed (installed already: nothing to do)",
        "nothing to do",
    ]
    newer = shop_copy("1.0.1")
    edit_json(newer / "manifest.json", lambda m: m.update(version="1.0.1"))
    out, _ = pack("install", "--ensure", str(newer))
    assert "upgrade hello-shop 1.0.0 -> 1.0.1" in out and "upgraded hello-shop 1.0.1" in out
    assert Record.objects.filter(object_key="customer").count() == 3  # sample data once
    assert InstalledPack.objects.get().version == "1.0.1"
    out, _ = pack("install", "--ensure", str(HELLO_SHOP))  # older than installed: left alone
    assert "nothing to do" in out and InstalledPack.objects.get().version == "1.0.1"
