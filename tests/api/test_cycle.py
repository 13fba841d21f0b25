"""The full cycle over real HTTP: publish a field, query it typed, filter on it, and mutate
it with a validation error naming its path — the schema follows the publish at once."""

from __future__ import annotations

import copy

import requests

from tests.conftest import CUSTOMER


def test_publish_query_filter_mutate(live_server, admin_token):
    url = f"{live_server.url}/graphql"

    def call(query: str, variables: dict | None = None) -> dict:
        response = requests.post(
            url,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=30,
        )
        assert response.status_code in (200, 400), response.text
        return response.json()

    save = """mutation($body: JSON!) {
        saveDefinitionDraft(kind: OBJECT, key: "customer", body: $body) { errors { path } }
        publishDefinition(kind: OBJECT, key: "customer") { definition { version } errors { path } }
    }"""
    first = call(save, {"body": CUSTOMER})["data"]
    assert first["publishDefinition"] == {"definition": {"version": 1}, "errors": []}
    call('mutation { createCustomer(input: {name: "Ana"}) { errors { path } } }')

    # the field does not exist yet: asking for it is a 400, not a 500
    before = call("{ customers { nodes { shoe_size } } }")
    assert "shoe_size" in before["errors"][0]["message"]

    body = copy.deepcopy(CUSTOMER)
    body["properties"]["shoe_size"] = {"x-type": "integer", "minimum": 30, "maximum": 50}
    body["properties"]["style"] = {"x-type": "enum", "enum": ["sporty", "classic"]}
    second = call(save, {"body": body})["data"]
    assert second["publishDefinition"] == {"definition": {"version": 2}, "errors": []}

    types = call('{ __type(name: "Customer") { fields { name type { name kind } } } }')
    fields = {f["name"]: f["type"] for f in types["data"]["__type"]["fields"]}
    assert fields["shoe_size"] == {"name": "Int", "kind": "SCALAR"}
    assert fields["style"] == {"name": "CustomerStyle", "kind": "ENUM"}

    create = """mutation($input: CustomerInput!) { createCustomer(input: $input) {
        record { id name shoe_size style } errors { path code message } } }"""
    made = call(create, {"input": {"name": "Bo", "shoe_size": 42, "style": "classic"}})
    assert made["data"]["createCustomer"]["record"]["shoe_size"] == 42
    call(create, {"input": {"name": "Chen", "shoe_size": 36, "style": "sporty"}})

    found = call("{ customers(filter: {shoe_size: {gte: 40}}) { nodes { name style } } }")
    assert found["data"]["customers"]["nodes"] == [{"name": "Bo", "style": "classic"}]

    refused = call(create, {"input": {"name": "Dai", "shoe_size": 99}})["data"]["createCustomer"]
    assert refused["record"] is None
    assert [(e["path"], e["code"]) for e in refused["errors"]] == [("$.shoe_size", "maximum")]
    assert call("{ customers { totalCount } }")["data"]["customers"]["totalCount"] == 3
