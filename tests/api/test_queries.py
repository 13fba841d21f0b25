"""Queries: one record, pages with cursors, typed filters, relations, segments, order, totals."""

from __future__ import annotations

import pytest

from tessera.definitions import service as definitions
from tessera.records import service as records


@pytest.fixture
def people(shop):
    rows = [
        ("Ana", "Hangzhou", "gold", 120, 900.5, True),
        ("Bo", "Shanghai", "silver", 40, 120, False),
        ("Chen", "Hangzhou", "bronze", 5, 10, False),
        ("Dai", "Beijing", "gold", 300, 4000, True),
        ("Eva", "Hangzhou", "platinum", 800, 12000.25, True),
    ]
    out = {}
    for name, city, level, points, spent, vip in rows:
        out[name] = records.create(
            "customer",
            {
                "name": name,
                "city": city,
                "level": level,
                "points": points,
                "total_spent": spent,
                "vip": vip,
                "birthday": f"1990-0{len(out) + 1}-15",
                "tags": ["new"] if points < 50 else ["loyal", "vip"],
            },
        )
    day = 1
    for name, totals in [("Ana", [50, 300]), ("Dai", [20]), ("Eva", [500, 60, 70])]:
        for total in totals:
            records.create(
                "order",
                {
                    "customer": out[name].pk,
                    "total": total,
                    "placed_at": f"2024-0{day % 9 + 1}-0{day % 9 + 1}T10:00:00Z",
                    "status": "paid" if total > 100 else "placed",
                },
            )
            day += 1
    return out


EDGES = "{ edges { node { name } } }"


def names(result, field="customers"):
    return [e["node"]["name"] for e in result["data"][field]["edges"]]


def test_one_record_by_id_and_an_unknown_id_is_null(people, gql, admin_token):
    ana = people["Ana"]
    out = gql(
        "query($id: ID!) { customer(id: $id) { id version name level total_spent birthday } }",
        {"id": ana.pk},
        token=admin_token,
    )
    assert out["data"]["customer"] == {
        "id": str(ana.pk),
        "version": 1,
        "name": "Ana",
        "level": "gold",
        "total_spent": 900.5,
        "birthday": "1990-01-15",
    }
    missing = gql('{ customer(id: "999999") { id } order(id: "x") { id } }', token=admin_token)
    assert missing["data"] == {"customer": None, "order": None}


def test_pages_follow_cursors_with_total_count(people, gql, admin_token):
    query = """query($after: String) { customers(first: 2, after: $after, orderBy: [name_ASC]) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
        edges { cursor node { name } } } }"""
    seen, after = [], None
    for _ in range(3):
        out = gql(query, {"after": after}, token=admin_token)["data"]["customers"]
        assert out["totalCount"] == 5
        seen += [e["node"]["name"] for e in out["edges"]]
        after = out["pageInfo"]["endCursor"]
        if not out["pageInfo"]["hasNextPage"]:
            break
        assert out["pageInfo"]["hasPreviousPage"] == (len(seen) > 2)
    assert seen == ["Ana", "Bo", "Chen", "Dai", "Eva"]
    bad = gql('{ customers(after: "bm9wZQ==") { totalCount } }', token=admin_token)
    assert bad["errors"][0]["extensions"]["code"] == "invalid_cursor"


def test_typed_filters_compile_to_the_condition_language(people, gql, admin_token):
    def run(filter_text):
        out = gql(
            f"{{ customers(filter: {filter_text}, orderBy: [name_ASC]) {EDGES} }}",
            token=admin_token,
        )
        assert "errors" not in out, out
        return names(out)

    assert run('{city: {eq: "Hangzhou"}}') == ["Ana", "Chen", "Eva"]
    assert run("{level: {in: [gold, platinum]}, points: {gte: 200}}") == ["Dai", "Eva"]
    assert run("{any: [{vip: {eq: false}}, {total_spent: {gt: 10000}}]}") == ["Bo", "Chen", "Eva"]
    assert run('{not: {city: {eq: "Hangzhou"}}}') == ["Bo", "Dai"]
    assert run('{tags: {hasAny: ["new"]}}') == ["Bo", "Chen"]
    assert run('{birthday: {before: "1990-03-01"}, name: {startsWith: "A"}}') == ["Ana"]
    assert run("{email: {isEmpty: true}, points: {between: [10, 200]}}") == ["Ana", "Bo"]


def test_a_bad_filter_value_is_an_error_naming_it_not_a_500(people, gql, admin_token):
    out = gql(
        '{ customers(filter: {birthday: {eq: "not a date"}}) { totalCount } }', token=admin_token
    )
    assert out["data"] is None or out["data"]["customers"] is None
    assert out["errors"][0]["extensions"]["code"] == "invalid_filter"
    assert "$.filter" in out["errors"][0]["message"]
    raw = gql(
        '{ customers(condition: {field: "nope", op: "eq", value: 1}) { totalCount } }',
        token=admin_token,
    )
    assert raw["errors"][0]["extensions"]["code"] == "invalid_filter"
    assert "unknown_field" in raw["errors"][0]["message"]


def test_filters_across_relations_both_ways(people, gql, admin_token):
    out = gql(
        '{ orders(filter: {customer: {city: {eq: "Hangzhou"}}}) { totalCount } }', token=admin_token
    )
    assert out["data"]["orders"]["totalCount"] == 5
    big = gql(
        "{ customers(filter: {orders: {where: {total: {gte: 300}}}}, orderBy: [name_ASC])"
        " { edges { node { name } } } }",
        token=admin_token,
    )
    assert names(big) == ["Ana", "Eva"]
    many = gql(
        "{ customers(filter: {orders: {count: {gte: 2}}}, orderBy: [name_ASC]) " + EDGES + " }",
        token=admin_token,
    )
    assert names(many) == ["Ana", "Eva"]
    none = gql(
        "{ customers(filter: {orders: {count: {eq: 0}}}, orderBy: [name_ASC]) " + EDGES + " }",
        token=admin_token,
    )
    assert names(none) == ["Bo", "Chen"]


def test_segment_filter_reads_a_published_segment(people, gql, admin_token):
    definitions.save_and_publish(
        "segment",
        "big-spenders",
        {"object": "customer", "condition": {"field": "total_spent", "op": "gte", "value": 500}},
    )
    out = gql(
        '{ customers(segment: "big-spenders", orderBy: [total_spent_DESC]) ' + EDGES + " }",
        token=admin_token,
    )
    assert names(out) == ["Eva", "Dai", "Ana"]
    unknown = gql('{ customers(segment: "nope") { totalCount } }', token=admin_token)
    assert unknown["errors"][0]["extensions"]["code"] == "invalid_filter"


def test_order_by_fields_and_nested_pages(people, gql, admin_token):
    out = gql(
        """{ customers(orderBy: [level_ASC, points_DESC]) { edges { node { name
             orders(first: 2, orderBy: [total_DESC]) { totalCount pageInfo { hasNextPage }
               nodes { total status customer { name } } } } } } }""",
        token=admin_token,
    )
    nodes = [e["node"] for e in out["data"]["customers"]["edges"]]
    assert [n["name"] for n in nodes] == ["Chen", "Dai", "Ana", "Eva", "Bo"]
    eva = nodes[3]["orders"]
    assert eva["totalCount"] == 3 and eva["pageInfo"]["hasNextPage"] is True
    assert [o["total"] for o in eva["nodes"]] == [500, 70]
    assert {o["customer"]["name"] for o in eva["nodes"]} == {"Eva"}
    assert nodes[0]["orders"] == {"totalCount": 0, "pageInfo": {"hasNextPage": False}, "nodes": []}


def test_aggregates_count_sum_avg_by_field_and_date_bucket(people, gql, admin_token):
    out = gql(
        """{ customerAggregate(groupBy: city) {
               key count sum { total_spent points } avg { points } }
             all: customerAggregate { key count sum { points } }
             orderAggregate(groupBy: placed_at, bucket: YEAR, filter: {status: {eq: paid}}) {
               key count sum { total } } }""",
        token=admin_token,
    )
    assert "errors" not in out, out
    by_city = {g["key"]: g for g in out["data"]["customerAggregate"]}
    assert by_city["Hangzhou"]["count"] == 3
    assert by_city["Hangzhou"]["sum"] == {"total_spent": 12910.75, "points": 925}
    assert by_city["Beijing"]["avg"]["points"] == 300
    assert out["data"]["all"] == [{"key": None, "count": 5, "sum": {"points": 1265}}]
    assert out["data"]["orderAggregate"] == [{"key": "2024", "count": 2, "sum": {"total": 800}}]


def test_timeline_has_changes_and_events_newest_first(people, gql, admin_token):
    ana = people["Ana"]
    records.update("customer", ana.pk, {"points": 121}, version=1)
    records.add_event(ana, "cart_abandoned", {"sku": "A1"})
    out = gql(
        "query($id: ID!) { customer(id: $id) { timeline { kind type version changes payload } } }",
        {"id": ana.pk},
        token=admin_token,
    )
    timeline = out["data"]["customer"]["timeline"]
    kinds = [(t["kind"], t["type"]) for t in timeline]
    assert set(kinds) == {("event", "cart_abandoned"), ("change", "update"), ("change", "create")}
    update = next(t for t in timeline if t["type"] == "update")
    assert update["changes"] == {"points": [120, 121]} and update["version"] == 2


def test_a_nested_page_past_the_end_still_counts(people, gql, admin_token):
    after = gql("{ customers(first: 1) { edges { cursor } } }", token=admin_token)
    cursor = after["data"]["customers"]["edges"][0]["cursor"]  # offset 0: the next page is 1..
    out = gql(
        """query($after: String) { customers(filter: {name: {eq: "Eva"}}) { nodes {
             orders(first: 2, after: $after) { totalCount nodes { total } pageInfo { hasNextPage } }
             late: orders(first: 2, after: "b2Zmc2V0OjQ=") { totalCount nodes { total } } } } }""",
        {"after": cursor},
        token=admin_token,
    )
    eva = out["data"]["customers"]["nodes"][0]
    assert eva["orders"]["totalCount"] == 3 and len(eva["orders"]["nodes"]) == 2
    assert eva["late"] == {"totalCount": 3, "nodes": []}  # offset 5: past its 3 orders
