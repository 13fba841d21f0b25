"""The permission module on its own, as exports, admin views and segment counts use it."""

from __future__ import annotations

import graphene
from graphql import print_schema

from tessera.api.extensions import SchemaExtension, extensions
from tessera.api.permissions import Policy
from tessera.api.schema import build
from tessera.definitions import service as definitions
from tessera.records import service as records
from tessera.records.models import Record
from tests.api.conftest import grant, make_token


def test_rows_all_own_team_and_conditions(shop, django_user_model):
    ana = django_user_model.objects.create_user("ana")
    bo = django_user_model.objects.create_user("bo")
    outsider = django_user_model.objects.create_user("cy")
    team = grant("east", "customer", read_fields=["name"], rows="team")
    ana.groups.add(team)
    bo.groups.add(team)
    made = {
        who.username: records.create("customer", {"name": who.username, "city": city}, actor=who)
        for who, city in [(ana, "Hangzhou"), (bo, "Shanghai"), (outsider, "Hangzhou")]
    }
    customers = Record.objects.filter(object_key="customer")

    def names(user, action="read"):
        rows = Policy.for_user(user).rows("customer", customers, action)
        return sorted(r.data["name"] for r in rows)

    assert names(ana) == ["ana", "bo"]
    assert names(ana, "update") == []  # the role reads only
    grant("east", "customer", read_fields=["name"], rows="own", can_update=True)
    assert names(bo) == ["bo"] and names(bo, "update") == ["bo"]
    grant("east", "customer", read_fields=["name"], rows="all", condition={
        "field": "city", "op": "eq", "value": "Hangzhou"})  # fmt: skip
    assert names(ana) == ["ana", "cy"]
    grant("east", "customer", read_fields=["name"], condition={"field": "nope", "op": "eq"})
    assert names(ana) == []  # a broken rule grants nothing
    assert names(outsider) == []  # no role, no rows
    anonymous = Policy.for_user(None)
    assert anonymous.rows("customer", customers).count() == 0
    assert not anonymous.can("customer", "read")
    assert made["cy"].pk


def test_user_placeholders_in_row_conditions(shop, django_user_model):
    li = django_user_model.objects.create_user("li", "li@example.com")
    li.groups.add(grant("owners", "customer", read_fields=["*"], condition={
        "field": "email", "op": "eq", "value": "$user.email"}))  # fmt: skip
    records.create("customer", {"name": "Li", "email": "li@example.com"})
    records.create("customer", {"name": "Wu", "email": "wu@example.com"})
    rows = Policy.for_user(li).rows("customer", Record.objects.filter(object_key="customer"))
    assert [r.data["name"] for r in rows] == ["Li"]


def test_segment_counts_respect_rows_and_fields(shop, gql, django_user_model, admin_token):
    for name, points in [("a", 1), ("b", 50), ("c", 90)]:
        records.create("customer", {"name": name, "points": points})
    definitions.save_and_publish(
        "segment",
        "fans",
        {"object": "customer", "condition": {"field": "points", "op": "gte", "value": 10}},
    )
    from tessera.segments import service as segments

    segments.refresh("fans")
    assert gql('{ segmentCount(key: "fans") }', token=admin_token)["data"]["segmentCount"] == 2
    viewer = django_user_model.objects.create_user("viewer")
    viewer.groups.add(grant("viewers", "customer", read_fields=["name"]))
    out = gql('{ segmentCount(key: "fans") }', token=make_token(viewer))
    assert out["errors"][0]["extensions"]["code"] == "permission_denied"  # it reads points
    unknown = gql('{ segmentCount(key: "nope") }', token=admin_token)
    assert unknown["errors"][0]["extensions"]["code"] == "not_found"


class CountExtension(SchemaExtension):
    """What a template-pack library does: fields of its own, built on generated types."""

    type = "test-extension"

    def query_fields(self, build_):
        return {"extension_ping": graphene.String(resolver=lambda root, info: "pong")}

    def mutation_fields(self, build_):
        def resolve(root, info, name):
            return {"errors": [], "report": {"planned": name}}

        payload = type(
            "ExtensionPlanPayload",
            (graphene.ObjectType,),
            {
                "report": build_.json(),
                "errors": graphene.List(graphene.NonNull(build_.field_error)),
            },
        )
        return {"extension_plan": graphene.Field(payload, name=graphene.String(), resolver=resolve)}


def test_extensions_add_fields_to_every_build(shop, gql, admin_token):
    with extensions.register_temporarily(CountExtension()):
        build._schemas.clear()
        assert "extensionPing: String" in print_schema(build.static_schema().graphql_schema)
        out = gql("{ extensionPing } ", token=admin_token)
        assert out["data"] == {"extensionPing": "pong"}
        planned = gql(
            'mutation { extensionPlan(name: "crm") { report errors { code } } }', token=admin_token
        )
        assert planned["data"]["extensionPlan"] == {"report": {"planned": "crm"}, "errors": []}
    build._schemas.clear()
    assert "extensionPing" not in print_schema(build.current_schema().graphql_schema)


def test_x_permissions_in_the_definition_narrow_the_allow_list(publish_object, django_user_model):
    import copy

    from tests.conftest import CUSTOMER

    body = copy.deepcopy(CUSTOMER)
    body["properties"]["total_spent"]["x-permissions"] = {"read": ["finance"], "write": ["finance"]}
    body["properties"]["points"]["x-permissions"] = {"write": ["finance"]}
    publish_object("customer", body)
    sales = django_user_model.objects.create_user("s")
    sales.groups.add(
        grant("sales", "customer", read_fields=["*"], write_fields=["*"], can_update=True)
    )
    finance = django_user_model.objects.create_user("f")
    finance.groups.add(
        grant(
            "finance", "customer", read_fields=["total_spent"], write_fields=["*"], can_update=True
        )
    )
    as_sales, as_finance = Policy.for_user(sales), Policy.for_user(finance)
    assert as_sales.denied_fields("customer", ["name", "total_spent", "points"]) == {"total_spent"}
    assert as_sales.unwritable("customer", ["name", "total_spent", "points"]) == [
        "total_spent",
        "points",
    ]
    assert as_finance.denied_fields("customer", ["name", "total_spent"]) == {"name"}
    assert as_finance.unwritable("customer", ["total_spent", "points", "name"]) == []
