"""Which screens a person may see: the one check the navigation, pages and exports share.

A published screen is shown to a signed-in person when all of these hold:

- its ``roles`` (Django groups), if it names any, include one of theirs;
- the Wagtail page it was built on, if there is one, is live and its privacy settings
  (page view restrictions: signed-in people, or people in some groups) let them in;
- at least one of its blocks shows an object they may read.

Superusers see every screen. Fields and rows inside a screen are narrowed by the
permission layer (``tessera.api.permissions.Policy``) block by block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import Http404

from tessera.api.permissions import Policy
from tessera.definitions.models import Definition, Status

from .labels import text


@dataclass(frozen=True)
class Screen:
    """A published screen definition, as the operator UI uses it."""

    key: str
    version: int
    body: dict[str, Any]

    @property
    def label(self) -> str:
        return text(self.body.get("x-label"), self.key)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return [b for b in self.body.get("blocks", []) if isinstance(b, dict)]

    @property
    def objects(self) -> set[str]:
        """The objects its blocks show (a kanban's is its workflow's, a campaign's its own)."""
        from tessera.definitions.cache import published

        out = set()
        for block in self.blocks:
            if isinstance(block.get("object"), str):
                out.add(block["object"])
            for kind in ("workflow", "campaign"):
                key = block.get(kind)
                definition = published(kind, key) if isinstance(key, str) else None
                if definition is not None and isinstance(definition.body.get("object"), str):
                    out.add(definition.body["object"])
        return out


def _group_names(user) -> set[str]:
    if not hasattr(user, "_tessera_groups"):
        user._tessera_groups = set(user.groups.values_list("name", flat=True))
    return user._tessera_groups


def _pages(keys: list[str]) -> dict[str, Any]:
    from builders.models import ScreenPage

    return {p.screen_key: p for p in ScreenPage.objects.filter(screen_key__in=keys)}


def page_allows(page, user) -> bool:
    """Wagtail's privacy settings of a screen page, for a signed-in person."""
    from wagtail.models import PageViewRestriction

    if not page.live:
        return False
    if user.is_superuser:
        return True
    for restriction in page.get_view_restrictions():
        if restriction.restriction_type == PageViewRestriction.PASSWORD:
            return False  # a shared password is for web visitors, not for operators
        if restriction.restriction_type == PageViewRestriction.GROUPS:
            allowed = {g.name for g in restriction.groups.all()}
            if not allowed & _group_names(user):
                return False
    return True


def may_see(screen: Screen, user, policy: Policy, page=None) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    roles = [r for r in screen.body.get("roles") or [] if isinstance(r, str)]
    if roles and not set(roles) & _group_names(user):
        return False
    if page is not None and not page_allows(page, user):
        return False
    objects = screen.objects
    return not objects or any(policy.can(o, "read") for o in objects)


def _published() -> list[Screen]:
    rows = Definition.objects.filter(kind="screen", status=Status.PUBLISHED).values_list(
        "key", "version", "body"
    )
    return [Screen(key, version, body) for key, version, body in rows if isinstance(body, dict)]


def visible(user, policy: Policy) -> list[Screen]:
    """The screens this person may open, in navigation order."""
    screens = _published()
    pages = _pages([s.key for s in screens])
    shown = [s for s in screens if may_see(s, user, policy, pages.get(s.key))]
    return sorted(shown, key=lambda s: (s.body.get("order", 1000), s.label.lower(), s.key))


def get(key: str, user, policy: Policy) -> Screen:
    """The screen, or 404 for one that is not published or not for this person.

    Refusing with 404 rather than 403 keeps a screen's existence from people it is not for.
    """
    definition = (
        Definition.objects.filter(kind="screen", key=key, status=Status.PUBLISHED)
        .values_list("key", "version", "body")
        .first()
    )
    if definition is None or not isinstance(definition[2], dict):
        raise Http404("no such screen")
    screen = Screen(*definition)
    if not may_see(screen, user, policy, _pages([key]).get(key)):
        raise Http404("no such screen")
    return screen
