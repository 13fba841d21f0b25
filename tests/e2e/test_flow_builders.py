"""The flow builders in a real browser: a business user gives a workflow transition a guard
with the condition builder and an SLA an escalation, then inserts an A/B split into a
campaign from the palette, edits an action's parameters in their generated form, sees a
mistake named next to its control, and dry-runs a customer through the flow (the path drawn
on the diagram). Screenshots in English and Chinese go to docs/images."""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command

from tessera.definitions import service
from tessera.records import service as records
from tests.e2e.conftest import shot
from tests.e2e.test_business_user import PASSWORD, refreshed, settle, sign_in

DOCS = Path(__file__).resolve().parents[2] / "docs" / "examples"


def load(*paths: Path) -> None:
    with open("/dev/null", "w") as quiet:
        call_command("definitions", "load", *map(str, paths), "--publish", stdout=quiet)


def row_of(page, prefix: str, name: str) -> str:
    """The row number the builder gave ``name`` (``tr``: transitions, ``n``: steps)."""
    return (
        page.locator(f"input[name$='-orig'][value='{name}'][name^='{prefix}-']")
        .get_attribute("name")
        .split("-")[1]
    )


def shot_at(page, name: str, selector: str) -> None:
    """A window-sized shot with ``selector`` at its top (Wagtail scrolls an inner column)."""
    page.locator(selector).first.evaluate("e => e.scrollIntoView({block: 'start'})")
    shot(page, name)


def test_business_user_builds_flows(live_server, open_page, django_user_model):
    workflows, campaigns = DOCS / "workflows", DOCS / "campaigns"
    load(workflows / "ticket.json", workflows / "cn-office.json", workflows / "returns.json")
    load(campaigns / "customer.json", campaigns / "order.json", campaigns / "abandoned-cart.json")
    ana = records.create(
        "customer", {"name": "Ana", "email": "ana@example.com", "email_opt_in": True}
    )
    django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    url = live_server.url
    page = open_page("en-US")
    sign_in(page, url)

    # 1. the workflow: a guard on "reject" built with the condition builder, an escalation
    page.goto(f"{url}/admin/tessera/definitions/workflow/returns/edit/")
    page.wait_for_selector("svg.tb-diagram")
    reject = row_of(page, "tr", "reject")
    refreshed(page, lambda: page.check(f"#tr-{reject}-guard_on"))
    refreshed(page, page.locator("button[value='c-add:greject:field']").click)
    refreshed(page, lambda: page.select_option("select[name='cgreject.0.field']", "priority"))
    refreshed(page, lambda: page.select_option("select[name='cgreject.0.value']", "urgent"))
    assert "reject [if]" in page.locator("svg.tb-diagram").text_content()
    refreshed(page, page.locator("button[value='a-add:sla-1-breach-']").click)
    refreshed(page, lambda: page.select_option("#sla-1-breach-0-type", "assign"))
    refreshed(page, lambda: page.select_option("#sla-1-breach-0-p-strategy", "round_robin"))
    page.fill("#sla-1-breach-0-p-group", "supervisors")
    settle(page)
    shot_at(page, "builder-workflow-en", ".tb-diagram-wrap")
    shot_at(page, "builder-workflow-sla-en", "fieldset.tb-sla")
    shot_at(page, "builder-workflow-guard-en", "table.tb-transitions")
    page.get_by_role("button", name="Publish", exact=True).click()
    page.wait_for_selector("text=Published workflow returns version 2.")
    body = service.current("workflow", "returns").body
    assert body["transitions"]["reject"]["guard"] == {
        "all": [{"field": "priority", "op": "eq", "value": "urgent"}]
    }
    assert body["states"]["new"]["sla"][1]["on_breach"] == [
        {"type": "assign", "params": {"strategy": "round_robin", "group": "supervisors"}}
    ]

    # 2. the campaign: a split from the palette on the "no" way of the first branch
    campaign = f"{url}/admin/tessera/definitions/campaign/abandoned-cart/edit/"
    page.goto(campaign)
    refreshed(page, page.locator("button[value='n-insert:bought.else:split']").click)
    page.wait_for_selector("svg.tb-diagram g[data-node='split_9']")
    # the coupon's parameters are a form from issue_coupon's schema; a mistake is named there
    coupon = row_of(page, "n", "coupon")
    page.fill(f"#n-{coupon}-a0-p-prefix", "cart")
    settle(page)
    page.get_by_role("button", name="Save draft").click()
    error = page.locator(f"label[for='n-{coupon}-a0-p-prefix'] .tb-error")
    error.wait_for()
    assert "does not match" in error.inner_text() or "form" in error.inner_text()
    shot_at(page, "builder-campaign-error-en", "fieldset[data-node=coupon]")
    page.fill(f"#n-{coupon}-a0-p-prefix", "CART-")
    settle(page)
    # the dry run: Ana, who has not bought, is reminded then gets the coupon
    refreshed(page, lambda: page.select_option("#dry-record", str(ana.pk)))
    refreshed(page, page.get_by_role("button", name="Walk through the flow").click)
    page.wait_for_selector(".tb-path-steps li")
    steps = page.locator(".tb-path-steps li").all_inner_texts()
    assert steps[0].startswith("trigger") and any("remind" in s for s in steps)
    walked = page.locator("svg.tb-diagram g.walked").evaluate_all(
        "gs => gs.map(g => g.dataset.node)"
    )
    assert "remind" in walked and "coupon" in walked and "done" in walked
    shot_at(page, "builder-campaign-en", "#campaign-diagram")
    shot_at(page, "builder-campaign-palette-en", "section.tb-palette")
    shot_at(page, "builder-campaign-dryrun-en", ".tb-preview")
    page.get_by_role("button", name="Publish", exact=True).click()
    page.wait_for_selector("text=Published campaign abandoned-cart version 2.")
    nodes = service.current("campaign", "abandoned-cart").body["nodes"]
    assert nodes["bought"]["else"] == "split_9"
    assert {v["next"] for v in nodes["split_9"]["variants"]} == {"remind"}

    # the same builders in Chinese
    zh = open_page("zh-CN")
    sign_in(zh, url)
    zh.goto(campaign)
    refreshed(zh, lambda: zh.select_option("#dry-record", str(ana.pk)))
    refreshed(zh, zh.locator("button[value='dryrun']").click)
    zh.wait_for_selector("svg.tb-diagram g.walked")
    shot_at(zh, "builder-campaign-zh", "#campaign-diagram")
    zh.goto(f"{url}/admin/tessera/definitions/workflow/returns/edit/")
    zh.wait_for_selector("svg.tb-diagram")
    shot_at(zh, "builder-workflow-zh", ".tb-diagram-wrap")
