"""Expression indexes: made and dropped by publishing, moved by a rename, used by queries.

The plan tests seed enough records (and records of another object, which the partial index
must leave out), ANALYZE, and read the database's own plan for a query written with
``field_expression``: the expression the conditions compiler writes. They pass only if
the database really picks the index, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import threading
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed
from tessera.definitions.models import Status
from tessera.definitions.service import PublishRefused
from tessera.plugins import field_types
from tessera.records import service as records
from tessera.records.indexes import existing_index_names, field_expression, wanted_indexes
from tessera.records.models import Record
from tests.conftest import CUSTOMER, ORDER

on_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL: set DATABASE_URL=postgres://…",
)


def index_name(object_key: str, body: dict[str, Any], *fields: str) -> str:
    """The name of the index the body asks for on ``fields``."""
    for spec in wanted_indexes(object_key, body):
        if spec.fields == fields:
            return spec.name
    raise AssertionError(f"{object_key} asks for no index on {fields}")


def database_index_names() -> set[str]:
    """Every index on the records table, read from the database's own catalogue."""
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, "records_record"))


def expression(body: dict[str, Any], field: str) -> str:
    return field_expression(field, field_types.get(body["properties"][field]["x-type"]).sql_type)


def query_plan(sql: str, params: list[Any]) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE records_record" if connection.vendor == "postgresql" else "ANALYZE")


def without(body: dict[str, Any], field: str, *keywords: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    for keyword in keywords:
        out["properties"][field].pop(keyword, None)
    return out


# --- made, dropped, moved -----------------------------------------------------------------


def test_publish_creates_every_asked_index(order_object):
    customer = {spec.name for spec in wanted_indexes("customer", CUSTOMER)}
    order = {spec.name for spec in wanted_indexes("order", ORDER)}
    assert existing_index_names("customer") == customer
    assert existing_index_names("order") == order
    assert (customer | order) <= database_index_names()
    # x-index on city, phone, total_spent; x-unique on email; a relation is always indexed
    assert index_name("customer", CUSTOMER, "email").startswith("tsru_")
    assert index_name("order", ORDER, "customer").startswith("tsri_")


def test_republish_without_the_flag_drops_the_index(customer_object):
    city = index_name("customer", CUSTOMER, "city")
    email = index_name("customer", CUSTOMER, "email")
    body = without(without(CUSTOMER, "city", "x-index"), "email", "x-unique")

    definitions.save_and_publish("object", "customer", body)

    assert city not in existing_index_names("customer")
    assert email not in existing_index_names("customer")
    assert not {city, email} & database_index_names()
    assert index_name("customer", CUSTOMER, "phone") in existing_index_names("customer")


def test_a_refused_publish_leaves_the_indexes_as_they_were(customer_object):
    records.create("customer", {"name": "Ana", "city": "Hangzhou"})
    before = existing_index_names("customer")
    body = without(copy.deepcopy(CUSTOMER), "city", "x-index")
    body["properties"]["city"]["x-type"] = "integer"  # breaks Ana's city: refused

    with pytest.raises(PublishRefused):
        definitions.save_and_publish("object", "customer", body)

    assert existing_index_names("customer") == before


def test_rename_through_a_migration_moves_the_index(publish_object):
    v1 = {
        "properties": {"name": {"x-type": "string"}, "mobile": {"x-type": "phone", "x-index": True}}
    }
    publish_object("contact", v1)
    records.create("contact", {"name": "Ana", "mobile": "+86 138 0000 0000"})
    v2 = {
        "properties": {"name": {"x-type": "string"}, "phone": {"x-type": "phone", "x-index": True}}
    }

    publish_object("contact", v2, migration={"rename": {"mobile": "phone"}})

    assert existing_index_names("contact") == {index_name("contact", v2, "phone")}
    assert index_name("contact", v1, "mobile") not in database_index_names()
    found = Record.objects.raw(
        f"SELECT id FROM records_record WHERE object_key = %s AND {expression(v2, 'phone')} = %s",
        ["contact", "+86 138 0000 0000"],
    )
    assert len(list(found)) == 1


def test_index_names_of_two_objects_never_collide(publish_object):
    body = {"properties": {"code": {"x-type": "string", "x-unique": True}}}
    publish_object("coupon", body)
    publish_object("coupon_batch", body)
    assert existing_index_names("coupon").isdisjoint(existing_index_names("coupon_batch"))
    assert len(existing_index_names("coupon")) == 1


# --- the planner picks them -----------------------------------------------------------------


def seed(order_object) -> None:
    """2,000 customers and orders, plus 2,000 records of another object with the same fields."""
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    customers = [
        Record(
            object_key="customer",
            schema_version=1,
            data={"name": f"c{i}", "city": f"city-{i % 200}", "total_spent": i * 5},
        )
        for i in range(2000)
    ]
    others = [
        Record(
            object_key="lead",
            schema_version=1,
            data={
                "city": "city-7",
                "total_spent": 9999,
                "placed_at": "2030-01-01T00:00:00.000000Z",
            },
        )
        for _ in range(2000)
    ]
    Record.objects.bulk_create(customers + others)
    first = Record.objects.filter(object_key="customer").order_by("pk").first()
    orders = [
        Record(
            object_key="order",
            schema_version=1,
            data={
                "customer": first.pk,
                "total": i,
                "placed_at": (start + dt.timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            },
        )
        for i in range(2000)
    ]
    Record.objects.bulk_create(orders)
    analyze()


@pytest.mark.parametrize(
    ("object_key", "body", "field", "op", "value"),
    [
        pytest.param("customer", CUSTOMER, "city", "=", "city-7", id="text"),
        pytest.param("customer", CUSTOMER, "total_spent", ">=", 9990, id="money"),
        pytest.param(
            "order", ORDER, "placed_at", ">=", "2024-03-24T00:00:00.000000Z", id="datetime"
        ),
    ],
)
def test_the_planner_uses_the_index(order_object, object_key, body, field, op, value):
    seed(order_object)
    sql = (
        f"SELECT id FROM records_record WHERE object_key = %s AND {expression(body, field)} {op} %s"
    )

    plan = query_plan(sql, [object_key, value])

    assert index_name(object_key, body, field) in plan, plan
    with connection.cursor() as cursor:
        cursor.execute(sql, [object_key, value])
        hits = cursor.fetchall()
    assert 1 <= len(hits) <= 20  # selective, and the other object's records are left out

    # the conditions compiler writes the same expression on a table alias: still the index
    from tessera.conditions.sql import value_expr

    sql_type = field_types.get(body["properties"][field]["x-type"]).sql_type
    aliased = value_expr("r", field, sql_type, connection.vendor)
    sql = f"SELECT r.id FROM records_record r WHERE r.object_key = %s AND {aliased} {op} %s"
    assert index_name(object_key, body, field) in query_plan(sql, [object_key, value])


def test_the_planner_uses_a_unique_index_for_a_lookup(order_object):
    seed(order_object)
    Record.objects.create(
        object_key="customer", schema_version=1, data={"name": "Ana", "email": "ana@example.com"}
    )
    analyze()
    email = expression(CUSTOMER, "email")
    sql = f"SELECT id FROM records_record WHERE object_key = %s AND {email} = %s"
    assert index_name("customer", CUSTOMER, "email") in query_plan(
        sql, ["customer", "ana@example.com"]
    )


# --- unique ----------------------------------------------------------------------------------


def test_the_unique_index_itself_refuses_a_duplicate(customer_object):
    records.create("customer", {"name": "Ana", "email": "ana@example.com"})
    with pytest.raises(IntegrityError), transaction.atomic():
        Record.objects.create(
            object_key="customer", schema_version=1, data={"name": "Bo", "email": "ana@example.com"}
        )
    # the index is partial on the object: another object may hold the same value
    Record.objects.create(object_key="lead", schema_version=1, data={"email": "ana@example.com"})


def test_a_duplicate_that_slips_past_the_pre_check_is_a_validation_error(
    customer_object, monkeypatch
):
    records.create("customer", {"name": "Ana", "email": "ana@example.com"})
    # As if another writer committed between this writer's check and its insert.
    monkeypatch.setattr(records, "_check_unique", lambda *args, **kwargs: [])

    with pytest.raises(ValidationFailed) as refused:
        records.create("customer", {"name": "Bo", "email": "ana@example.com"})

    assert [e.code for e in refused.value.errors] == ["unique"]
    assert Record.objects.filter(object_key="customer").count() == 1


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_writers_of_one_unique_value(monkeypatch):
    """Both pass the pre-check before either inserts; the index lets exactly one win."""
    definitions.save_and_publish("object", "customer", copy.deepcopy(CUSTOMER))
    barrier = threading.Barrier(2, timeout=20)
    check = records._check_unique

    def check_then_wait(*args, **kwargs):
        errors = check(*args, **kwargs)
        barrier.wait()  # both writers have checked; neither has inserted
        return errors

    monkeypatch.setattr(records, "_check_unique", check_then_wait)
    outcomes: list[Any] = []

    def write(name: str) -> None:
        try:
            outcomes.append(records.create("customer", {"name": name, "email": "same@example.com"}))
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=write, args=(n,)) for n in ("Ana", "Bo")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        saved = [o for o in outcomes if isinstance(o, Record)]
        refused = [o for o in outcomes if isinstance(o, ValidationFailed)]
        assert len(saved) == 1 and len(refused) == 1, outcomes
        assert refused[0].errors[0].code == "unique"
        assert Record.objects.filter(object_key="customer").count() == 1
    finally:
        # DDL outlives the flush between transactional tests: leave no index behind.
        from tessera.records.indexes import sync_indexes

        sync_indexes("customer", {"properties": {}})


def test_publishing_unique_over_clashing_values_is_refused_with_a_report(publish_object):
    publish_object("customer", without(CUSTOMER, "email", "x-unique"))
    ana = records.create("customer", {"name": "Ana", "email": "shared@example.com"})
    bo = records.create("customer", {"name": "Bo", "email": "shared@example.com"})
    cy = records.create("customer", {"name": "Cy", "email": "shared@example.com"})
    di = records.create("customer", {"name": "Di", "email": "di@example.com"})
    records.create("customer", {"name": "Ed", "email": "di@example.com"})
    records.create("customer", {"name": "Fa", "email": "fa@example.com"})
    records.create("customer", {"name": "Gu"})  # no email: never a clash

    with pytest.raises(PublishRefused) as refused:
        publish_object("customer", CUSTOMER)

    assert "email" in str(refused.value) and "5 stored record(s)" in str(refused.value)
    report = refused.value.report
    assert report["breaking"] == 5 and report["checked"] == 7
    entry = report["fields"]["email"]
    assert entry["count"] == 5
    examples = [(e["record"], e["value"]) for e in entry["examples"]]
    assert examples[:3] == [
        (ana.pk, "shared@example.com"),
        (bo.pk, "shared@example.com"),
        (cy.pk, "shared@example.com"),
    ]
    assert (di.pk, "di@example.com") in examples
    assert all(e["path"] == "$.email" for e in entry["examples"])
    assert report["suggestions"]
    # nothing happened: no unique index, the draft is still a draft
    assert index_name("customer", CUSTOMER, "email") not in existing_index_names("customer")
    assert definitions.draft("object", "customer").status == Status.DRAFT

    # once the values are distinct, the same draft publishes
    for record in Record.objects.filter(
        object_key="customer", data__email__in=["shared@example.com", "di@example.com"]
    ).exclude(pk__in=[ana.pk, di.pk]):
        records.update("customer", record.pk, {"email": None}, version=record.version)
    definitions.publish("object", "customer")
    assert index_name("customer", CUSTOMER, "email") in existing_index_names("customer")


def test_unique_together_over_clashing_pairs_is_refused(publish_object):
    body = {"properties": {"first": {"x-type": "string"}, "last": {"x-type": "string"}}}
    publish_object("person", body)
    records.create("person", {"first": "Ana", "last": "Li"})
    records.create("person", {"first": "Ana", "last": "Li"})
    records.create("person", {"first": "Ana", "last": "Wu"})

    with pytest.raises(PublishRefused) as refused:
        publish_object("person", {**body, "x-unique-together": [["first", "last"]]})

    entry = refused.value.report["fields"]["first, last"]
    assert entry["count"] == 2
    assert [e["value"] for e in entry["examples"]] == [["Ana", "Li"], ["Ana", "Li"]]


def test_numbers_that_are_equal_clash_as_the_database_sees_them(publish_object):
    body = {"properties": {"code": {"x-type": "decimal"}}}
    publish_object("voucher", body)
    records.create("voucher", {"code": 7})
    records.create("voucher", {"code": 7.5})
    records.create("voucher", {"code": 7.5})

    with pytest.raises(PublishRefused) as refused:
        publish_object("voucher", {"properties": {"code": {"x-type": "decimal", "x-unique": True}}})

    assert refused.value.report["fields"]["code"]["count"] == 2
