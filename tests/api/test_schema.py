"""The schema is generated from the published objects and rebuilt when the revision moves."""

from __future__ import annotations

import copy
import io

import pytest
from django.core.management import call_command
from graphql import print_schema

from tessera.api.names import enum_values, pascal
from tessera.api.schema.build import current_schema
from tests.api.conftest import API_ORDER
from tests.conftest import CUSTOMER


def sdl() -> str:
    return print_schema(current_schema().graphql_schema)


def test_every_object_gets_typed_fields_enums_relations_inputs_filters_and_order(shop):
    text = sdl()
    for line in [
        "type Customer {",
        "  name: String",
        "  email: String",
        "  birthday: Date",
        "  level: CustomerLevel",
        "  points: BigInt",
        "  total_spent: Decimal",
        "  vip: Boolean",
        "  tags: [String]",
        "type Order {",
        "  customer: Customer",
        "  placed_at: DateTime",
        "  status: OrderStatus",
        "enum CustomerLevel {",
        "input CustomerInput {",
        "input CustomerFilter {",
        "  orders: OrderRelatedFilter",
        "input OrderFilter {",
        "  customer: CustomerFieldsFilter",
        "enum CustomerOrderBy {",
        "  total_spent_DESC",
        "  customer(id: ID!): Customer",
        "  customerAggregate(filter: CustomerFilter, condition: JSON, segment: String, "
        "groupBy: CustomerGroupBy, bucket: DateBucket): [CustomerGroup!]!",
        "  createCustomer(input: CustomerInput!): CustomerPayload!",
        "  updateCustomer(id: ID!, version: Int!, input: CustomerInput!): CustomerPayload!",
        "  deleteOrder(id: ID!, version: Int!): DeletePayload!",
    ]:
        assert line in text, line
    schema = current_schema().graphql_schema
    orders = schema.get_type("Customer").fields["orders"]
    assert str(orders.type) == "OrderConnection!"
    assert {n: str(a.type) for n, a in orders.args.items()} == {
        "first": "Int",
        "after": "String",
        "filter": "OrderFilter",
        "condition": "JSON",
        "orderBy": "[OrderOrderBy!]",
    }
    customers = schema.query_type.fields["customers"]
    assert str(customers.type) == "CustomerConnection!"
    assert str(customers.args["segment"].type) == "String"
    connection = schema.get_type("CustomerConnection").fields
    assert set(connection) == {"edges", "nodes", "pageInfo", "totalCount"}


def test_the_schema_is_cached_per_revision_and_a_publish_is_seen(shop, publish_object):
    first = current_schema()
    assert current_schema() is first
    body = copy.deepcopy(CUSTOMER)
    body["properties"]["nickname"] = {"x-type": "string"}
    publish_object("customer", body)
    second = current_schema()
    assert second is not first
    assert "  nickname: String" in print_schema(second.graphql_schema)


def test_unusual_keys_and_options_get_valid_names(publish_object):
    assert pascal("after-sales_ticket") == "AfterSalesTicket"
    assert pascal("3d-print") == "O3dPrint"
    assert enum_values(["a b", "true", "ok", "ok2", "mro", "_x"])["V4"] == "mro"
    assert enum_values(["a b", "true", "ok", "ok2"]) == {
        "V0": "a b",
        "V1": "true",
        "ok": "ok",
        "ok2": "ok2",
    }
    publish_object(
        "3d-print",
        {
            "type": "object",
            "properties": {
                "id": {"x-type": "string"},
                "finish": {"x-type": "enum", "enum": ["matte look", "glossy"]},
            },
        },
    )
    text = sdl()
    assert "type O3dPrint {" in text and "  id_: String" in text
    assert "enum O3dPrintFinish {\n  V0\n  glossy\n}" in text


def test_a_key_that_clashes_with_a_static_type_gets_a_suffix(publish_object):
    publish_object("definition", {"type": "object", "properties": {"x": {"x-type": "string"}}})
    text = sdl()
    assert "type DefinitionRecord {" in text and "type Definition {" in text


def test_the_command_prints_the_current_sdl_and_checks_the_static_one(shop, tmp_path):
    out = io.StringIO()
    call_command("graphql_schema", stdout=out)
    assert "type Customer {" in out.getvalue()
    static = io.StringIO()
    call_command("graphql_schema", "--static", stdout=static)
    assert "type Customer" not in static.getvalue() and "type Query {" in static.getvalue()
    target = tmp_path / "schema.graphql"
    target.write_text(static.getvalue().strip() + "\n", encoding="utf-8")
    call_command("graphql_schema", "--check", str(target), stdout=io.StringIO())
    target.write_text("type Query { old: String }\n", encoding="utf-8")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not the static schema"):
        call_command("graphql_schema", "--check", str(target), stdout=io.StringIO())


def test_names_that_would_clash_are_kept_apart(publish_object):
    # "customer-edge" would make CustomerEdge, which Customer's connection also needs
    publish_object("customer", CUSTOMER)
    publish_object("customer-edge", {"type": "object", "properties": {"x": {"x-type": "string"}}})
    body = copy.deepcopy(API_ORDER)
    publish_object("order", body)
    # a data field named like the reverse relation: the relation gets a suffix
    clashing = copy.deepcopy(CUSTOMER)
    clashing["properties"]["orders"] = {"x-type": "integer"}
    publish_object("customer", clashing)
    schema = current_schema().graphql_schema
    assert schema.get_type("CustomerEdgeRecord") is not None
    fields = schema.get_type("Customer").fields
    assert str(fields["orders"].type) == "BigInt"
    assert str(fields["orders_related"].type) == "OrderConnection!"


def test_fields_named_like_filter_keys_or_python_enum_names_still_build(
    publish_object, gql, admin_token
):
    from tessera.records import service as records

    publish_object(
        "odd",
        {
            "type": "object",
            "properties": {
                "all": {"x-type": "string"},
                "not": {"x-type": "integer"},
                "mro": {"x-type": "string"},
                "version": {"x-type": "string"},
            },
        },
    )
    records.create("odd", {"all": "x", "not": 3, "mro": "m", "version": "v9"})
    out = gql(
        """{ odds(filter: {all_: {eq: "x"}, not: {not_: {eq: 4}}}) {
               nodes { all not mro version_ } }
             oddAggregate(groupBy: mro_) { key count } }""",
        token=admin_token,
    )
    assert out["data"]["odds"]["nodes"] == [{"all": "x", "not": 3, "mro": "m", "version_": "v9"}]
    assert out["data"]["oddAggregate"] == [{"key": "m", "count": 1}]
