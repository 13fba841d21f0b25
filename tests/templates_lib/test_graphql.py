"""The pack mutations and queries over GraphQL, through the real /graphql view."""

from __future__ import annotations

import base64
import io
import zipfile
from typing import Any

import pytest
from django.contrib.auth.models import Permission

from templates_lib.models import InstalledPack
from tessera.api import tokens
from tessera.definitions import service as definitions

from .conftest import EXAMPLES

PLAN = """
mutation($key: String!, $resolutions: [TemplatePackResolution!]) {
  packPlan(key: $key, resolutions: $resolutions) {
    ok done conflicts text
    packs { key mode version reason steps { kind key action reason resolution mine theirs } }
    problems { pack file path code message }
  }
}"""
INSTALL = """
mutation($key: String!, $sample: Boolean) {
  packInstall(key: $key, sample: $sample) {
    ok done packs { key mode } problems { pack file path code message }
  }
}"""


@pytest.fixture(autouse=True)
def examples_in_the_library(settings):
    settings.TESSERA_PACKS = {**settings.TESSERA_PACKS, "dirs": [str(EXAMPLES)]}


@pytest.fixture
def gql(client):
    def run(query: str, variables: dict | None = None, *, token: str) -> dict[str, Any]:
        response = client.post(
            "/graphql",
            {"query": query, "variables": variables or {}},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code == 200, response.content
        return response.json()

    return run


@pytest.fixture
def admin_token(django_user_model) -> str:
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-1234567")
    return tokens.issue(admin, "packs", ["read", "write", "definitions"])[0]


def test_plan_install_and_list_packs(db, gql, admin_token):
    planned = gql(PLAN, {"key": "hello-vip"}, token=admin_token)["data"]["packPlan"]
    assert planned["ok"] and not planned["done"]
    assert [(p["key"], p["mode"], p["reason"]) for p in planned["packs"]] == [
        ("hello-shop", "install", "needed by hello-vip"),
        ("hello-vip", "install", "requested"),
    ]
    assert planned["text"].startswith("install hello-shop 1.0.0 (needed by hello-vip)")
    assert not InstalledPack.objects.exists()

    installed = gql(INSTALL, {"key": "hello-vip"}, token=admin_token)["data"]["packInstall"]
    assert installed == {
        "ok": True,
        "done": True,
        "packs": [
            {"key": "hello-shop", "mode": "install"},
            {"key": "hello-vip", "mode": "install"},
        ],
        "problems": [],
    }
    listed = gql(
        "{ installedPacks { key version definitions } availablePacks { key version depends } }",
        token=admin_token,
    )["data"]
    assert [(p["key"], p["version"]) for p in listed["installedPacks"]] == [
        ("hello-shop", "1.0.0"),
        ("hello-vip", "1.0.0"),
    ]
    assert "segment:vip" in listed["installedPacks"][1]["definitions"]
    assert {"key": "hello-vip", "version": "1.0.0", "depends": {"hello-shop": ">=1.0,<2"}} in (
        listed["availablePacks"]
    )


def test_a_conflict_comes_back_with_both_diffs_and_is_settled_by_a_resolution(db, gql, admin_token):
    gql(INSTALL, {"key": "hello-shop"}, token=admin_token)
    mine = definitions.current("object", "customer").body
    mine["properties"]["nickname"] = {"x-type": "string"}
    definitions.save_and_publish("object", "customer", mine)
    gql(
        'mutation { packUninstall(key: "hello-shop") { done problems { code message } } }',
        token=admin_token,
    )
    planned = gql(PLAN, {"key": "hello-shop"}, token=admin_token)["data"]["packPlan"]
    assert planned["conflicts"] == []  # the uninstall archived the edited object with the pack
    definitions.save_and_publish("object", "customer", mine)
    planned = gql(PLAN, {"key": "hello-shop"}, token=admin_token)["data"]["packPlan"]
    assert planned["conflicts"] == ["object:customer"] and not planned["ok"]
    step = planned["packs"][0]["steps"][0]
    assert step["action"] == "conflict" and step["mine"] == [
        {"path": "$.properties.nickname", "op": "added", "old": None, "new": {"x-type": "string"}}
    ]
    settled = gql(
        PLAN,
        {"key": "hello-shop", "resolutions": [{"definition": "object:customer", "side": "MINE"}]},
        token=admin_token,
    )["data"]["packPlan"]
    assert settled["ok"] and settled["packs"][0]["steps"][0]["resolution"] == "mine"


def test_refusals_are_problems_in_the_payload(db, gql, admin_token):
    result = gql(PLAN, {"key": "no-such-pack"}, token=admin_token)["data"]["packPlan"]
    assert not result["ok"]
    assert [(p["path"], p["code"]) for p in result["problems"]] == [("$.key", "not_found")]
    uninstall = gql(
        'mutation { packUninstall(key: "hello-shop") { ok done problems { code } } }',
        token=admin_token,
    )["data"]["packUninstall"]
    assert uninstall == {"ok": False, "done": False, "problems": [{"code": "not_installed"}]}


def test_a_pack_path_cannot_be_given_over_the_api(db, gql, admin_token):
    for key in ("/etc", "../examples/hello-shop", str(EXAMPLES / "hello-shop")):
        result = gql(PLAN, {"key": key}, token=admin_token)["data"]["packPlan"]
        assert [(p["path"], p["code"]) for p in result["problems"]] == [("$.key", "invalid")]


def test_export_returns_the_pack_as_a_zip(db, gql, admin_token):
    gql(INSTALL, {"key": "hello-shop", "sample": False}, token=admin_token)
    result = gql(
        """mutation {
             packExport(key: "copy", version: "0.1.0", definitions: ["segment:big-spenders"]) {
               archive manifest problems { code } } }""",
        token=admin_token,
    )["data"]["packExport"]
    assert result["problems"] == []
    assert result["manifest"]["depends"] == {"hello-shop": ">=1.0.0,<2"}
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(result["archive"]))) as archive:
        assert sorted(archive.namelist()) == [
            "definitions/segment/big-spenders.json",
            "manifest.json",
        ]


def test_only_people_allowed_to_manage_packs(db, gql, django_user_model):
    person = django_user_model.objects.create_user("li", "li@example.com", "pw-1234567")
    token = tokens.issue(person, "t", ["read", "write", "definitions"])[0]
    denied = gql(PLAN, {"key": "hello-shop"}, token=token)
    assert denied["errors"][0]["extensions"]["code"] == "permission_denied"
    assert gql("{ installedPacks { key } }", token=token)["errors"][0]["message"] == (
        "you may not read template packs"
    )

    person.user_permissions.add(Permission.objects.get(codename="manage_packs"))
    person = django_user_model.objects.get(pk=person.pk)  # permissions are cached per object
    read_only = tokens.issue(person, "ro", ["read"])[0]
    assert (
        gql(PLAN, {"key": "hello-shop"}, token=read_only)["errors"][0]["extensions"]["code"]
        == "scope"
    )
    allowed = gql(PLAN, {"key": "hello-shop"}, token=token)["data"]["packPlan"]
    assert allowed["ok"]
