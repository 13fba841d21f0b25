"""Browser tests: Playwright's sync API driving Debian's Chromium against the live server.

One browser per session (starting Chromium is the slow part); a fresh context per test, in the
language the test asks for. Screenshots go to docs/images/, where docs/screens.md shows them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
# Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
# around it are synchronous and safe, so Django's async guard is told so.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: ./tessera install puts it there (apt-get, as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def fresh_caches():
    from tessera.conditions import objects
    from tessera.definitions import cache
    from tessera.flows import graph

    caches = [cache._published, objects._cache, graph._compiled]
    for item in caches:
        item.clear()
    yield
    for item in caches:
        item.clear()


@pytest.fixture(autouse=True)
def wagtail_tree(transactional_db):
    """The root page, the home page and the default site, as Wagtail's migrations make them.

    Live-server tests run on ``transactional_db``, which empties every table after each test, so a
    browser test that runs after another one would find no page tree to add a screen under.
    """
    from django.conf import settings
    from wagtail.coreutils import get_supported_content_language_variant
    from wagtail.models import Locale, Page, Site

    if Page.objects.filter(depth=2).exists():
        return
    language = get_supported_content_language_variant(settings.LANGUAGE_CODE)
    Locale.objects.get_or_create(language_code=language)
    root = Page.get_first_root_node() or Page.add_root(instance=Page(title="Root", slug="root"))
    home = root.add_child(instance=Page(title="Home", slug="home"))
    Site.objects.update_or_create(
        is_default_site=True, defaults={"hostname": "localhost", "root_page": home}
    )


@pytest.fixture
def open_page(browser):
    """``open_page("zh-CN")``: a new page whose browser speaks that language."""
    contexts = []

    def make(locale: str = "en-US"):
        context = browser.new_context(
            locale=locale,
            viewport={"width": 1360, "height": 900},
            extra_http_headers={"Accept-Language": locale},
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def shot(page, name: str) -> Path:
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
