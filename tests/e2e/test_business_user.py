"""The business user's story in a real browser: a field added to customers in the fields
builder, a segment built with the condition builder (its live count seen), a screen page with
a table filtered by that segment and a chart, published; screenshots in English and Chinese."""

from __future__ import annotations

import copy

from tessera.definitions import service
from tessera.records import service as records
from tests.conftest import CUSTOMER
from tests.e2e.conftest import shot

PASSWORD = "pw-boss-1234"


def refreshed(page, action) -> None:
    """Do ``action`` and wait for the builder's htmx refresh it causes to be swapped in."""
    with page.expect_response(lambda r: r.request.method == "POST"):
        action()
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def settle(page) -> None:
    """Leave the control just filled: its change refreshes the builder."""
    refreshed(page, lambda: page.keyboard.press("Tab"))


def sign_in(page, url: str) -> None:
    page.goto(f"{url}/admin/login/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")


def test_business_user_builds_a_screen(live_server, open_page, django_user_model):
    from wagtail.models import Page

    service.save_and_publish("object", "customer", copy.deepcopy(CUSTOMER))
    for name, city, level in (
        ("Ana", "Hangzhou", "gold"),
        ("Bo", "Shanghai", "silver"),
        ("Cy", "Hangzhou", "silver"),
    ):
        records.create("customer", {"name": name, "city": city, "level": level})
    django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    url = live_server.url
    page = open_page("en-US")
    sign_in(page, url)

    # 1. the fields builder: add a field with labels in both languages, publish
    page.goto(f"{url}/admin/tessera/definitions/object/customer/edit/")
    refreshed(page, page.get_by_role("button", name="+ Add a field").click)
    last = int(page.input_value("input[name=f-count]")) - 1
    page.fill(f"#f-{last}-name", "wechat_id")
    settle(page)
    page.fill(f"#f-{last}-label_en", "WeChat ID")
    settle(page)
    page.fill(f"#f-{last}-label_zh", "微信号")
    settle(page)
    refreshed(page, lambda: page.check(f"#f-{last}-index"))
    shot(page, "builder-fields-en")
    page.get_by_role("button", name="Publish", exact=True).click()
    page.wait_for_selector("text=Published object customer version 2.")
    assert service.current("object", "customer").body["properties"]["wechat_id"] == {
        "x-type": "string",
        "x-label": {"en": "WeChat ID", "zh": "微信号"},
        "x-index": True,
    }

    # 2. the condition builder: Hangzhou customers, with the live count
    page.goto(f"{url}/admin/tessera/definitions/segment/add/")
    page.fill("#id_key", "hangzhou")
    settle(page)
    page.fill("#s-label_en", "Hangzhou customers")
    settle(page)
    page.fill("#s-label_zh", "杭州客户")
    settle(page)
    refreshed(page, page.get_by_role("button", name="+ Field").click)
    refreshed(page, lambda: page.select_option("select[name='c0.0.field']", "city"))
    page.fill("input[name='c0.0.value']", "Hangzhou")
    settle(page)
    page.wait_for_selector("[data-count='2']")
    assert "Ana" in page.inner_text(".tb-sample")
    shot(page, "builder-segment-en")
    page.get_by_role("button", name="Publish", exact=True).click()
    page.wait_for_selector("text=Published segment hangzhou version 1.")
    assert service.current("segment", "hangzhou").body["condition"] == {
        "all": [{"field": "city", "op": "eq", "value": "Hangzhou"}]
    }

    # 3. a screen page: a table filtered by the segment and a chart; published
    home = Page.objects.get(depth=2)
    page.goto(f"{url}/admin/pages/add/builders/screenpage/{home.pk}/")
    page.fill("#id_title", "Hangzhou desk")
    page.fill("#id_title_zh", "杭州客户台")
    page.fill("#id_screen_key", "hangzhou-desk")
    add = page.locator("button[title='Insert a block']")
    add.last.click()
    page.get_by_role("option", name="Table").click()
    page.select_option("select[name='body-0-value-object']", "customer")
    page.select_option("select[name='body-0-value-segment']", "hangzhou")
    page.fill("input[name='body-0-value-columns']", "name, city, level, wechat_id")
    add.last.click()
    page.get_by_role("option", name="Chart").click()
    page.select_option("select[name='body-1-value-object']", "customer")
    page.select_option("select[name='body-1-value-chart']", "pie")
    page.fill("input[name='body-1-value-group_by']", "level")
    shot(page, "builder-screen-page-en")
    page.evaluate("document.querySelector(\"button[name='action-publish']\").click()")
    page.wait_for_url(f"**/admin/pages/{home.pk}/")
    screen = service.current("screen", "hangzhou-desk")
    assert screen.body["blocks"][0] == {
        "type": "table",
        "object": "customer",
        "segment": "hangzhou",
        "columns": ["name", "city", "level", "wechat_id"],
    }
    assert screen.body["blocks"][1]["chart"] == "pie"

    # what operators now see: the segment's customers and the chart
    page.goto(f"{url}/app/s/hangzhou-desk/")
    table = page.inner_text("[data-block=table]")
    assert "Ana" in table and "Cy" in table and "Bo" not in table
    assert page.locator("svg.chart").count() == 1
    shot(page, "operator-screen-built-en")

    # the same builder in Chinese (the browser's language)
    zh = open_page("zh-CN")
    sign_in(zh, url)
    zh.goto(f"{url}/admin/tessera/definitions/segment/hangzhou/edit/")
    zh.wait_for_selector("text=当前符合")
    shot(zh, "builder-segment-zh")
