"""Merges, duplicates and import progress over GraphQL (the real /graphql view)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group

from tessera.api import tokens
from tessera.api.models import ObjectPermission
from tessera.exchange import dedup
from tessera.records import service as records
from tessera.records.models import Record


@pytest.fixture(autouse=True)
def fresh_schema():
    from tessera.api.schema import build

    build._schemas.clear()
    yield
    build._schemas.clear()


def gql(client, token, query, **variables):
    response = client.post(
        "/graphql",
        data=json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content
    return response.json()


MERGE = """mutation($s: Int!, $d: Int!, $rules: JSON) {
  mergeRecords(object: "customer", survivor: $s, duplicate: $d, rules: $rules) {
    merge record errors { path code message } } }"""
UNMERGE = "mutation($m: Int!) { unmergeRecords(merge: $m) { ok errors { path code } } }"


@pytest.fixture
def tokens_for(shop, django_user_model):
    reader = Group.objects.create(name="readers")
    ObjectPermission.objects.create(group=reader, object_key="customer", read_fields=["*"])
    viewer = django_user_model.objects.create_user("viewer", "v@example.com", "pw-1234567")
    viewer.groups.add(reader)
    root = django_user_model.objects.create_superuser("root", "r@example.com", "pw-1234567")
    return {u.username: tokens.issue(u, "t", ["read", "write"])[0] for u in (viewer, root)}


def test_duplicates_are_listed_merged_and_unmerged(client, tokens_for):
    a = records.create("customer", {"name": "Ana", "email": "ana@example.com", "points": 2})
    b = records.create("customer", {"name": "Ana", "email": "ANA@example.com", "points": 3})
    dedup.store("customer", dedup.find("customer"))
    listed = gql(
        client,
        tokens_for["viewer"],
        '{ duplicateCandidates(object: "customer") { first second reason status } }',
    )
    assert listed["data"]["duplicateCandidates"] == [
        {"first": a.pk, "second": b.pk, "reason": "email", "status": "open"}
    ]
    refused = gql(client, tokens_for["viewer"], MERGE, s=a.pk, d=b.pk)
    assert refused["errors"][0]["extensions"]["code"] == "permission_denied"
    assert Record.objects.filter(pk=b.pk).exists()

    bad = gql(client, tokens_for["root"], MERGE, s=a.pk, d=b.pk, rules={"points": "max"})
    assert bad["data"]["mergeRecords"]["errors"][0]["path"] == "$.rules.points"
    done = gql(client, tokens_for["root"], MERGE, s=a.pk, d=b.pk, rules={"points": "sum"})
    payload = done["data"]["mergeRecords"]
    assert payload["errors"] == [] and payload["record"] == a.pk
    assert Record.objects.get(pk=a.pk).data["points"] == 5
    undone = gql(client, tokens_for["root"], UNMERGE, m=payload["merge"])
    assert undone["data"]["unmergeRecords"] == {"ok": True, "errors": []}
    again = gql(client, tokens_for["root"], UNMERGE, m=payload["merge"])
    assert again["data"]["unmergeRecords"]["errors"][0]["code"] == "reversed"
