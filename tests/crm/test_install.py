"""Installing the five CRM packs into an empty database, again (nothing changes), live tickets."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from django.core.management import call_command

from templates_lib.crm import kpis
from templates_lib.crm.demo import PACKS
from templates_lib.models import InstalledDefinition, InstalledPack
from tessera.definitions.models import Definition, Status
from tessera.flows.campaigns.models import Entry
from tessera.flows.models import Run
from tessera.records.models import Event, Record
from tessera.segments.models import ScoringSettings

from .conftest import SIZE

pytestmark = pytest.mark.django_db

EXPECTED = {
    "ecommerce-core": {"object": 6},
    "rfm-lifecycle": {"segment": 27},
    "after-sales": {"object": 2, "calendar": 1, "workflow": 1, "campaign": 1, "segment": 4},
    "lifecycle-campaigns": {"campaign": 6},
    "crm-dashboards": {"screen": 9},
}


def test_all_packs_install_into_an_empty_database(shop):
    installed = {p.key: p for p in InstalledPack.objects.all()}
    assert sorted(installed) == sorted(PACKS)
    assert installed["lifecycle-campaigns"].manifest["depends"] == {
        "ecommerce-core": ">=1.0,<2",
        "rfm-lifecycle": ">=1.0,<2",
    }
    assert set(installed["crm-dashboards"].manifest["depends"]) == set(PACKS) - {"crm-dashboards"}
    for key, kinds in EXPECTED.items():
        owned = Counter(
            InstalledDefinition.objects.filter(pack__key=key).values_list("kind", flat=True)
        )
        assert dict(owned) == kinds, key
        for kind, def_key in InstalledDefinition.objects.filter(pack__key=key).values_list(
            "kind", "key"
        ):
            assert Definition.objects.get(kind=kind, key=def_key, status=Status.PUBLISHED)
    counts = Counter(Record.objects.values_list("object_key", flat=True))
    assert counts["customer"] == SIZE and counts["category"] == 8 and counts["product"] == 45
    assert counts["faq"] == 10 and counts["order"] > SIZE and counts["order_item"] > counts["order"]
    assert counts["ticket"] > 0 and counts["coupon"] > 0
    kinds = set(ScoringSettings.objects.values_list("kind", "object_key"))
    assert kinds == {("rfm", "customer"), ("lifecycle", "customer")}
    customers = Record.objects.filter(object_key="customer")
    assert all(c.data.get("lifecycle_stage") for c in customers)  # assigned at install
    assert customers.filter(data__rfm_cell__isnull=False).exists()
    assert Event.objects.filter(type="product_viewed").exists()
    assert Event.objects.filter(type="cart_abandoned").exists()
    for key in PACKS:
        assert f"pack {key} 1.0.0: installed" in shop.output
    assert "dashboard crm-kpis:" in shop.output and "Repurchase rate:" in shop.output


def test_names_and_regions_in_both_languages(shop):
    customers = [c.data for c in shop.records("customer")]
    countries = Counter(c["country"] for c in customers)
    assert countries["CN"] > SIZE / 2 and len(countries) > 3
    assert any("\u4e00" <= c["name"][0] <= "\u9fff" for c in customers)  # 韩梅梅
    assert any(c["name"].isascii() for c in customers)  # Emma Smith
    assert all(c["city"] for c in customers) and any(c.get("district") for c in customers)
    assert {c["time_zone"] for c in customers} >= {"Asia/Shanghai"}
    with_ids = [c for c in customers if c.get("wechat_openid") or c.get("tmall_id")]
    assert with_ids and all(c["phone"].startswith("+") for c in customers if c.get("phone"))


def test_running_the_setup_again_changes_nothing(shop):
    before = (Record.objects.count(), Event.objects.count(), Definition.objects.count())
    out = io.StringIO()
    call_command("tessera_setup_demo", customers=SIZE, no_live=True, stdout=out)
    text = out.getvalue()
    for key in PACKS:
        assert f"pack {key} 1.0.0: installed already, nothing to do" in text
    assert "e-mail limits: set by an operator, kept" in text
    assert (Record.objects.count(), Event.objects.count(), Definition.objects.count()) == before


def test_live_tickets_and_activity(shop, django_user_model, committed):
    out = io.StringIO()
    with committed():  # the observers' tasks run as the worker would
        call_command("tessera_setup_demo", stdout=out)  # now with the live tickets and activity
    assert "live tickets: 12 opened" in out.getvalue()
    assert "live activity: 3 sign-ups and 5 abandoned carts" in out.getvalue()
    entered = Counter(Entry.objects.values_list("campaign_key", flat=True))
    assert (entered["welcome-series"], entered["abandoned-cart"]) == (3, 5)
    runs = Run.objects.filter(flow_kind="workflow", flow_key="after-sales-service")
    assert runs.count() == 12
    tickets = Record.objects.filter(pk__in=runs.values_list("subject_id", flat=True))
    agents = set(
        django_user_model.objects.filter(groups__name="support").values_list("username", flat=True)
    )
    assert {t.data["assignee"] for t in tickets} <= agents
    answered = [t for t in tickets if t.data.get("faq")]
    assert answered and all(t.data["auto_reply"] for t in answered)
    assert all(t.data["status"] == "new" for t in tickets)
    again = io.StringIO()
    call_command("tessera_setup_demo", stdout=again)
    assert "none added" in again.getvalue() and runs.count() == 12
    assert "live activity: made already, none added" in again.getvalue()


def test_every_kpi_block_is_well_formed(shop):
    for definition in Definition.objects.filter(kind="screen", status=Status.PUBLISHED):
        assert kpis.check(definition.body) == [], definition.key
