"""Every admin view the builders add refuses people without the right: anonymous people go to
the login page; signed-in people without admin access or without the view's right get 403 on a
direct GET and POST alike. The screen page's Wagtail views (edit, preview) stay Wagtail's own:
without page rights nobody gets the page or its preview."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import URLPattern

from builders import urls
from tessera.definitions import service
from tests.conftest import CUSTOMER

ARGS = {"kind": "object", "key": "customer", "version": 1}
READ = {
    "index": "definitions.view_definition",
    "listing": "definitions.view_definition",
    "add": "definitions.view_definition",
    "edit": "definitions.view_definition",
    "history": "definitions.view_definition",
    "rollback": "definitions.view_definition",
    "archive": "definitions.view_definition",
    "preview-screen": "definitions.view_definition",
    "packs": "templates_lib.view_installedpack",
    "pack-plan": "templates_lib.view_installedpack",
    "pack-install": "templates_lib.view_installedpack",
    "pack-uninstall": "templates_lib.view_installedpack",
}


def _urls() -> list[tuple[str, str]]:
    out = []
    for pattern in urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        names = pattern.pattern.converters
        kwargs = {
            n: (
                "hello-shop"
                if pattern.name.startswith("pack")
                else "customers"
                if pattern.name == "preview-screen"
                else ARGS[n]
            )
            for n in names
        }
        out.append((pattern.name, f"/admin/tessera/{pattern.pattern.__str__()}".format()))
        route = str(pattern.pattern)
        for name, value in kwargs.items():
            route = route.replace(f"<slug:{name}>", str(value)).replace(f"<int:{name}>", str(value))
        out[-1] = (pattern.name, f"/admin/tessera/{route}")
    return out


URLS = _urls()


def test_every_view_is_covered():
    assert {name for name, _ in URLS} == set(READ)


EXAMPLES = Path(__file__).resolve().parents[2] / "templates_lib" / "examples"


@pytest.fixture
def shop(db, settings):
    settings.TESSERA_PACKS = {**settings.TESSERA_PACKS, "dirs": [str(EXAMPLES)]}
    service.save_and_publish("object", "customer", dict(CUSTOMER))
    service.save_and_publish(
        "screen", "customers", {"blocks": [{"type": "table", "object": "customer"}]}
    )


def _person(django_user_model, name, *perms):
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw-123456789")
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    return user


@pytest.mark.parametrize(("name", "url"), URLS)
def test_anonymous_people_go_to_login(client, shop, name, url):
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == 302 and response.url.startswith("/admin/login/"), name


@pytest.mark.parametrize(("name", "url"), URLS)
def test_no_admin_access_is_403(client, shop, django_user_model, name, url):
    client.force_login(
        _person(
            django_user_model,
            "op",
            READ[name],
            "definitions.change_definition",
            "templates_lib.manage_packs",
        )
    )
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403


@pytest.mark.parametrize(("name", "url"), URLS)
def test_admin_access_without_the_right_is_403(client, shop, django_user_model, name, url):
    client.force_login(_person(django_user_model, "editor", "wagtailadmin.access_admin"))
    get, post = client.get(url), client.post(url)
    assert get.status_code == 403 and post.status_code == 403
    assert b"customer" not in get.content


@pytest.mark.parametrize(("name", "url"), URLS)
def test_reading_does_not_allow_writing(client, shop, django_user_model, name, url):
    client.force_login(
        _person(django_user_model, "reader", "wagtailadmin.access_admin", READ[name])
    )
    # a view that writes refuses (403); a view that only reads takes no POST at all (405)
    assert client.post(url).status_code in (403, 405)
    # POST-only views; uninstalling needs an installed pack (tests/builders/test_packs.py)
    if name not in ("rollback", "archive", "pack-install", "pack-uninstall"):
        assert client.get(url).status_code == 200, name


def test_screen_page_edit_and_preview_need_page_rights(client, shop, django_user_model):
    from wagtail.models import Page

    from builders.models import ScreenPage

    root = Page.objects.get(depth=1)
    page = root.add_child(
        instance=ScreenPage(title="Secret screen", slug="secret", screen_key="secret")
    )
    client.force_login(_person(django_user_model, "editor", "wagtailadmin.access_admin"))
    for url in (f"/admin/pages/{page.pk}/edit/", f"/admin/pages/{page.pk}/edit/preview/"):
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code in (302, 403), url
            assert b"Secret screen" not in response.content
    client.logout()
    assert client.get(f"/admin/pages/{page.pk}/edit/preview/").status_code == 302


def test_menu_shows_only_what_a_person_may_open(client, shop, django_user_model):
    group = Group.objects.create(name="editors")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    user = _person(django_user_model, "editor")
    user.groups.add(group)
    client.force_login(user)
    home = client.get("/admin/").content.decode()
    assert "/admin/tessera/definitions/" not in home and "/admin/tessera/packs/" not in home
