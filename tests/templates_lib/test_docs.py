"""docs/packs.md: its examples are the example packs, and its commands do what it says."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import CommandError, call_command

from templates_lib.models import InstalledPack
from tessera.api import tokens
from tessera.definitions import service as definitions
from tessera.records.models import Record

from .conftest import HELLO_SHOP, HELLO_VIP, ROOT, edit_json, read_json

PAGE = (ROOT / "docs" / "packs.md").read_text(encoding="utf-8")


def example(name: str) -> str:
    match = re.search(rf"<!-- example: {name} -->\n```\w*\n(.*?)\n```", PAGE, re.DOTALL)
    assert match, f"docs/packs.md has no example {name!r}"
    return match.group(1)


def pack(*args: str) -> str:
    out = io.StringIO()
    call_command("pack", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_manifest_and_sample_rows_shown_are_the_example_packs():
    assert json.loads(example("hello-shop manifest")) == read_json(HELLO_SHOP / "manifest.json")
    customer_row, order_row = example("sample rows").splitlines()
    first = {
        name: (HELLO_SHOP / "sample" / name).read_text(encoding="utf-8").splitlines()[0]
        for name in ("customers.jsonl", "orders.jsonl")
    }
    assert json.loads(customer_row) == json.loads(first["customers.jsonl"])
    assert json.loads(order_row) == json.loads(first["orders.jsonl"])


def test_installing_as_the_page_shows(db):
    assert pack("plan", str(HELLO_VIP)).strip() == example("plan")
    pack("install", str(HELLO_VIP))
    assert Record.objects.filter(object_key="customer").count() == 3
    with pytest.raises(CommandError):
        pack("uninstall", "hello-shop")
    pack("uninstall", "hello-vip", "--dry-run")
    pack("uninstall", "hello-vip")
    pack("uninstall", "hello-shop")
    assert Record.objects.filter(object_key="customer").count() == 3  # kept
    pack("install", str(HELLO_SHOP), "--no-sample")
    pack("uninstall", "hello-shop", "--delete-data")
    assert not Record.objects.exists() and not InstalledPack.objects.exists()


def test_the_upgrade_plan_and_migration_shown(db, shop_copy):
    pack("install", str(HELLO_SHOP))
    body = definitions.current("segment", "big-spenders").body
    body["condition"]["value"] = 1500
    definitions.save_and_publish("segment", "big-spenders", body)

    minor = shop_copy("hello-shop-1.1")
    edit_json(minor / "manifest.json", lambda m: m.update(version="1.1.0"))
    edit_json(
        minor / "definitions/object/customer.json",
        lambda b: b["properties"].update(phone={"x-type": "phone"}),
    )
    edit_json(
        minor / "definitions/segment/big-spenders.json",
        lambda b: b["condition"].update(value=2000),
    )
    with pytest.raises(CommandError) as conflicts:
        call_command("pack", "plan", str(minor), stdout=(out := io.StringIO()))
    assert conflicts.value.returncode == 3
    assert out.getvalue().strip() == example("upgrade plan")
    pack("upgrade", str(minor), "--mine", "segment:big-spenders")

    major = shop_copy("hello-shop-2")
    migrations = json.loads(example("migration"))
    edit_json(major / "manifest.json", lambda m: m.update(version="2.0.0", **migrations))
    edit_json(
        major / "definitions/object/customer.json",
        lambda b: b["properties"].update(town=b["properties"].pop("city")),
    )
    pack("upgrade", str(major), "--all-mine")
    towns = sorted(r.data["town"] for r in Record.objects.filter(object_key="customer"))
    assert towns == ["Beijing", "Hangzhou", "Lisbon"]


def test_the_graphql_example(db, client, django_user_model, settings):
    settings.TESSERA_PACKS = {**settings.TESSERA_PACKS, "dirs": [str(HELLO_VIP.parent)]}
    query = re.search(r"```graphql\n(.*?)\n```", PAGE, re.DOTALL).group(1)
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-1234567")
    token = tokens.issue(admin, "docs", ["read", "write", "definitions"])[0]
    response = client.post(
        "/graphql",
        {"query": query},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    result = response.json()["data"]["packInstall"]
    assert result["ok"] and result["done"] and result["problems"] == []
    assert [p["key"] for p in result["packs"]] == ["hello-shop", "hello-vip"]
