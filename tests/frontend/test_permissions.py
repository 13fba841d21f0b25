"""People without rights see neither the screen nor the fields they may not read: in the
navigation, on the page, in the fragments and in the exports."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from wagtail.models import Page, PageViewRestriction

from builders.models import ScreenPage

SCREEN_URLS = [
    "/app/s/{key}/",
    "/app/s/{key}/b/0/",
    "/app/s/{key}/b/0/export.csv",
]


@pytest.mark.parametrize("url", SCREEN_URLS)
def test_a_screen_for_other_roles_is_not_there(operator_client, url):
    assert operator_client.get(url.format(key="managers")).status_code == 404


@pytest.mark.parametrize("url", SCREEN_URLS)
def test_a_person_without_rights_sees_no_screen(client, shop, url):
    client.force_login(shop["outsider"])
    assert client.get(url.format(key="customers")).status_code == 404
    page = client.get("/app/").content.decode()
    assert "/app/s/" not in page


def test_managers_see_their_screen(client, shop):
    manager = shop["outsider"]
    manager.groups.add(Group.objects.create(name="managers"))
    shop["support"].user_set.add(manager)
    client.force_login(manager)
    assert client.get("/app/s/managers/").status_code == 200


def test_page_privacy_decides_who_sees_a_screen(operator_client, shop):
    root = Page.objects.get(depth=1)
    page = root.add_child(
        instance=ScreenPage(title="Tickets", slug="tickets", screen_key="tickets")
    )
    restriction = PageViewRestriction.objects.create(
        page=page, restriction_type=PageViewRestriction.GROUPS
    )
    restriction.groups.set([Group.objects.create(name="leads")])
    assert operator_client.get("/app/s/tickets/").status_code == 404
    assert "/app/s/tickets/" not in operator_client.get("/app/").content.decode()
    restriction.groups.add(shop["support"])
    assert operator_client.get("/app/s/tickets/").status_code == 200


def test_posts_are_refused_too(client, shop):
    client.force_login(shop["outsider"])
    assert client.post("/app/s/customers/b/2/submit", {"name": "X"}).status_code == 404
    assert (
        client.post(
            "/app/s/tickets/b/0/move", {"run": 1, "version": 1, "to": "working"}
        ).status_code
        == 404
    )
    ticket = shop["ticket"]
    assert (
        client.post(f"/app/r/ticket/{ticket.pk}/transition", {"transition": "start"}).status_code
        == 404
    )
    assert client.get(f"/app/r/customer/{shop['customers']['Ana'].pk}/").status_code == 404


def test_a_filter_on_a_denied_field_is_refused_in_page_and_export(operator_client, shop):
    from tessera.definitions import service

    service.save_and_publish(
        "screen",
        "big",
        {
            "blocks": [
                {
                    "type": "table",
                    "object": "customer",
                    "filter": {"field": "total_spent", "op": "gte", "value": 100},
                },
            ]
        },
    )
    page = operator_client.get("/app/s/big/").content.decode()
    assert "Ana" not in page and "may not read" in page
    assert operator_client.get("/app/s/big/b/0/export.csv").status_code == 403


def test_anonymous_people_go_to_login(client, shop):
    for url in ["/app/s/customers/", "/app/s/customers/b/1/export.csv"]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/app/login/")
