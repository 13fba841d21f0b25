"""Relation and reverse-relation filters, a segment filter and aggregates over real HTTP."""

from __future__ import annotations

import requests

from tessera.definitions import service as definitions
from tessera.records import service as records


def test_relations_segments_and_aggregates(live_server, shop, admin_token):
    url = f"{live_server.url}/graphql"

    def call(query: str) -> dict:
        response = requests.post(
            url,
            json={"query": query},
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    people = {}
    for name, city, spent in [
        ("Ana", "Hangzhou", 900),
        ("Bo", "Shanghai", 50),
        ("Cy", "Hangzhou", 5),
    ]:
        people[name] = records.create(
            "customer", {"name": name, "city": city, "total_spent": spent}
        )
    for name, totals in [("Ana", [100, 400]), ("Bo", [30])]:
        for i, total in enumerate(totals):
            records.create(
                "order",
                {
                    "customer": people[name].pk,
                    "total": total,
                    "placed_at": f"2024-0{i + 1}-15T08:00:00Z",
                    "status": "paid",
                },
            )
    definitions.save_and_publish(
        "segment",
        "hangzhou",
        {"object": "customer", "condition": {"field": "city", "op": "eq", "value": "Hangzhou"}},
    )

    forward = call('{ orders(filter: {customer: {city: {eq: "Shanghai"}}}) { nodes { total } } }')
    assert forward["orders"]["nodes"] == [{"total": 30}]
    reverse = call(
        "{ customers(filter: {orders: {where: {total: {gte: 300}}}}) { nodes { name } } }"
    )
    assert reverse["customers"]["nodes"] == [{"name": "Ana"}]
    segment = call(
        '{ customers(segment: "hangzhou", orderBy: [name_DESC]) { totalCount nodes { name } } }'
    )
    assert segment["customers"] == {"totalCount": 2, "nodes": [{"name": "Cy"}, {"name": "Ana"}]}
    totals = call(
        """{ customerAggregate(groupBy: city) { key count sum { total_spent } }
             orderAggregate(groupBy: placed_at, bucket: MONTH) { key count sum { total } } }"""
    )
    assert totals["customerAggregate"] == [
        {"key": "Hangzhou", "count": 2, "sum": {"total_spent": 905}},
        {"key": "Shanghai", "count": 1, "sum": {"total_spent": 50}},
    ]
    assert totals["orderAggregate"] == [
        {"key": "2024-01", "count": 2, "sum": {"total": 130}},
        {"key": "2024-02", "count": 1, "sum": {"total": 400}},
    ]
