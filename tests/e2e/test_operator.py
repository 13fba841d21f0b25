"""The operator's story in a real browser, in English and in Chinese: sign in, find the screen,
create a customer through the generated form (an inline error first), drag a ticket on the
kanban (the transition and its SLA recorded), open the KPI dashboard."""

from __future__ import annotations

import pytest

from tessera.definitions import service
from tessera.flows.models import Run
from tessera.records.models import Record
from tests.e2e.conftest import shot
from tests.frontend.shop import build_shop

DASHBOARD = {
    "x-label": {"en": "KPI dashboard", "zh": "KPI 看板"},
    "order": 0,
    "blocks": [
        {
            "type": "kpi",
            "object": "customer",
            "label": {"en": "Customers", "zh": "客户数"},
            "measure": {"aggregate": "count"},
        },
        {
            "type": "kpi",
            "object": "customer",
            "segment": "hangzhou",
            "format": "percent",
            "label": {"en": "Share in Hangzhou", "zh": "杭州占比"},
            "measure": {"aggregate": "count"},
            "divided_by": {"measure": {"aggregate": "count"}},
        },
        {
            "type": "kpi",
            "object": "ticket",
            "label": {"en": "Open tickets", "zh": "未结工单"},
            "filter": {"field": "status", "op": "ne", "value": "done"},
            "measure": {"aggregate": "count"},
        },
        {
            "type": "chart",
            "chart": "bar",
            "object": "customer",
            "group_by": "city",
            "label": {"en": "Customers by city", "zh": "各城市客户"},
            "measure": {"aggregate": "count"},
        },
        {
            "type": "chart",
            "chart": "funnel",
            "object": "ticket",
            "group_by": "status",
            "stages": ["new", "working", "done"],
            "label": {"en": "Tickets by state", "zh": "工单状态"},
            "measure": {"aggregate": "count"},
        },
    ],
}
WORDS = {
    "en": {
        "sign_in": "Sign in",
        "save": "Save",
        "saved": "Saved.",
        "bad_email": "Enter a valid e-mail address.",
        "required": "This field is required.",
    },
    "zh": {
        "sign_in": "登录",
        "save": "保存",
        "saved": "已保存。",
        "bad_email": "请输入有效的邮箱地址。",
        "required": "此项必填。",
    },
}


@pytest.mark.parametrize(("lang", "locale"), [("en", "en-US"), ("zh", "zh-CN")])
def test_operator_works_in_the_screens(live_server, open_page, django_user_model, lang, locale):
    shop = build_shop(django_user_model)
    service.save_and_publish("screen", "dashboard", DASHBOARD)
    words, url = WORDS[lang], live_server.url
    page = open_page(locale)

    page.goto(f"{url}/app/")
    page.wait_for_url("**/app/login/**")
    page.fill("input[name=username]", "olivia")
    page.fill("input[name=password]", "pw-olivia-1")
    page.get_by_role("button", name=words["sign_in"]).click()
    page.wait_for_url(f"{url}/app/")
    nav = page.inner_text("nav.screens")
    assert ("Customers" if lang == "en" else "客户") in nav and (
        "经理" not in nav and "Managers" not in nav
    )

    # find the screen, create a customer: an inline error first, then saved
    page.get_by_role("link", name="Customers" if lang == "en" else "客户", exact=True).first.click()
    form = page.locator("[data-block=form]")
    form.locator("input[name=name]").fill("")
    form.locator("input[name=email]").fill("dee-at-example")
    form.get_by_role("button", name=words["save"]).click()
    page.wait_for_selector("#b2-email-error")
    assert page.inner_text("#b2-email-error") == words["bad_email"]
    assert page.inner_text("#b2-name-error") == words["required"]
    assert page.input_value("[data-block=form] input[name=email]") == "dee-at-example"
    shot(page, f"operator-form-error-{lang}")
    page.locator("[data-block=form] input[name=name]").fill("Dee")
    page.locator("[data-block=form] input[name=email]").fill("dee@example.com")
    page.locator("[data-block=form] input[name=city]").fill("Ningbo")
    page.locator("[data-block=form]").get_by_role("button", name=words["save"]).click()
    page.wait_for_selector(f"text={words['saved']}")
    assert (
        Record.objects.get(object_key="customer", data__name="Dee").created_by == shop["operator"]
    )

    # the kanban: drag the ticket from New to Working
    page.get_by_role("link", name="Tickets" if lang == "en" else "工单", exact=True).first.click()
    page.wait_for_selector(".column[data-state=new] .kcard")
    shot(page, f"operator-kanban-before-{lang}")
    page.drag_and_drop(".column[data-state=new] .kcard", ".column[data-state=working]")
    page.wait_for_selector(".column[data-state=working] .kcard")
    run = Run.objects.get(subject=shop["ticket"], flow_key="service")
    assert run.node == "working" and run.data["sla"]["respond"]["status"] == "met"
    step = run.steps.order_by("-at", "-pk").first()
    assert (step.transition, step.actor) == ("start", shop["operator"])
    shot(page, f"operator-kanban-{lang}")

    # the ticket's page shows the move and the met SLA in its timeline
    page.locator(".column[data-state=working] .kcard a").click()
    page.wait_for_selector(".timeline")
    assert "start" in page.inner_text(".timeline")
    assert ("met" if lang == "en" else "已达成") in page.inner_text(".run")

    # the KPI dashboard
    page.get_by_role("link", name="KPI dashboard" if lang == "en" else "KPI 看板").click()
    page.wait_for_selector("svg.chart")
    values = page.locator(".kpi-value").all_inner_texts()
    assert values == ["4", "50.0%", "1"]  # four customers, two in Hangzhou; one ticket not done
    shot(page, f"operator-dashboard-{lang}")
