"""Who may open the builders' admin views: the rule every one of them is wrapped in.

Anonymous people go to the admin's login page. A signed-in person without admin access, or
without the right a view needs, gets 403 on GET and POST alike — never a redirect that a
script could mistake for success, and never the page. Rights: reading definitions
``definitions.view_definition``, changing and publishing them ``definitions.change_definition``
(the same rights GraphQL asks for); reading packs ``templates_lib.view_installedpack``,
installing them ``templates_lib.manage_packs``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

VIEW_DEFINITIONS = "definitions.view_definition"
CHANGE_DEFINITIONS = "definitions.change_definition"
VIEW_PACKS = "templates_lib.view_installedpack"
MANAGE_PACKS = "templates_lib.manage_packs"


def denied(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "builders/denied.html", {}, status=403)


def admin_view(read: str, write: str | None = None) -> Callable:
    """GET needs ``read``; any other method needs ``write`` too (``read`` when None)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            from wagtail.admin.localization import get_localized_response
            from wagtail.log_actions import LogContext

            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("wagtailadmin_login"))
            needed = ["wagtailadmin.access_admin", read]
            if request.method not in ("GET", "HEAD"):
                needed.append(write or read)
            if not user.is_active or not user.has_perms(needed):
                return denied(request)
            request.can_write = user.has_perm(write or read)
            with LogContext(user=user):
                return get_localized_response(view, request, *args, **kwargs)

        return wrapped

    return decorator
