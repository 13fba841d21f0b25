"""Screen pages: their StreamField writes the screen JSON; publishing the page publishes the
screen, unpublishing archives it; errors sit on the block control they concern."""

from __future__ import annotations

import copy

import pytest
from wagtail import blocks
from wagtail.models import Page

from builders.models import ScreenPage
from builders.screen_blocks import SCREEN_BLOCKS, stream_data
from tessera.definitions import service
from tests.conftest import CUSTOMER

BODY = {
    "x-label": {"en": "Customers", "zh": "客户"},
    "order": 3,
    "blocks": [
        {
            "type": "table",
            "label": {"en": "All", "zh": "全部"},
            "object": "customer",
            "columns": ["name", "city"],
            "sort": {"field": "name", "desc": True},
            "page_size": 20,
        },
        {
            "type": "chart",
            "object": "customer",
            "chart": "pie",
            "group_by": "city",
            "measure": {"aggregate": "sum", "field": "total_spent"},
        },
        {
            "type": "kpi",
            "object": "customer",
            "measure": {"aggregate": "count"},
            "format": "number",
        },
        {"type": "form", "object": "customer", "fields": ["name", "email"]},
        {"type": "record", "object": "customer", "timeline": True, "transitions": False},
    ],
}


@pytest.fixture
def customer(publish_object):
    return publish_object("customer", CUSTOMER)


def _page(body=BODY) -> ScreenPage:
    root = Page.objects.get(depth=1)
    page = ScreenPage(
        title="Customers",
        title_zh="客户",
        slug="customers",
        navigation_order=3,
        body=stream_data(copy.deepcopy(body)),
    )
    return root.add_child(instance=page)


def test_publishing_the_page_publishes_the_screen(customer, django_user_model):
    author = django_user_model.objects.create_superuser("ed", "ed@example.com", "pw-123456789")
    page = _page()
    assert page.screen_body() == BODY  # the same JSON a developer would write
    page.save_revision(user=author).publish(user=author)
    published = service.current("screen", "customers")
    assert published.body == BODY and published.author == author
    page.unpublish()
    assert service.current("screen", "customers") is None


def test_block_errors_sit_on_the_control(customer):
    table = dict(SCREEN_BLOCKS)["table"]
    value = table.to_python({"object": "customer", "columns": "name, nope", "sort_field": "zzz"})
    with pytest.raises(blocks.StructBlockValidationError) as caught:
        table.clean(value)
    errors = caught.value.block_errors
    assert set(errors) == {"columns", "sort_field"}
    assert "no field nope" in str(errors["columns"].messages)


def test_a_bad_key_is_refused_next_to_the_key(customer):
    from django.core.exceptions import ValidationError

    page = ScreenPage(title="顾客", slug="顾客", body=stream_data(BODY))
    with pytest.raises(ValidationError) as caught:
        page.clean()
    assert "screen_key" in caught.value.message_dict


def test_preview_renders_the_draft_as_operators_see_it(customer, rf, django_user_model):
    from tessera.records import service as records

    records.create("customer", {"name": "Ana", "city": "Hangzhou", "total_spent": 10})
    request = rf.get("/")
    request.user = django_user_model.objects.create_superuser(
        "ed", "ed@example.com", "pw-123456789"
    )
    request.session = {}
    response = _page().serve_preview(request, "")
    html = response.content.decode()
    assert "Preview" in html and "Ana" in html and "<svg" in html
