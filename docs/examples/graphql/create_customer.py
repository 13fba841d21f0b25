"""Create a customer, fix what the server refuses, then update it with its version."""

import os

import requests

URL = os.environ["TESSERA_URL"] + "/graphql"
HEADERS = {"Authorization": "Bearer " + os.environ["TESSERA_TOKEN"]}

CREATE = """
mutation($input: CustomerInput!) {
  createCustomer(input: $input) {
    record { id version name email }
    errors { path code message }
  }
}"""
UPDATE = """
mutation($id: ID!, $version: Int!, $input: CustomerInput!) {
  updateCustomer(id: $id, version: $version, input: $input) {
    record { id version points }
    errors { path code message }
  }
}"""


def call(query, variables):
    response = requests.post(
        URL, json={"query": query, "variables": variables}, headers=HEADERS, timeout=30
    )
    response.raise_for_status()
    body = response.json()
    if "errors" in body:
        raise RuntimeError(body["errors"])
    return body["data"]


refused = call(CREATE, {"input": {"name": "Mei", "email": "not an email"}})["createCustomer"]
print([(e["path"], e["code"]) for e in refused["errors"]])  # [('$.email', 'format')]

created = call(CREATE, {"input": {"name": "Mei", "email": "mei@example.com"}})["createCustomer"]
customer = created["record"]
updated = call(
    UPDATE, {"id": customer["id"], "version": customer["version"], "input": {"points": 100}}
)["updateCustomer"]
print(updated["record"])  # {'id': '…', 'version': 2, 'points': 100}
