"""Who is asking: a bearer token (no CSRF: it is not a cookie) or the session (CSRF checked)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone

from . import tokens
from .models import AccessToken

ALL_SCOPES = frozenset(tokens.SCOPES)
TOUCH_EVERY = dt.timedelta(minutes=10)


@dataclass
class Caller:
    user: object | None
    scopes: frozenset[str]
    token: AccessToken | None = None
    problem: tuple[int, str, str] | None = None  # (status, code, message)


def _csrf_problem(request) -> bool:
    check = CsrfViewMiddleware(lambda r: None)
    return check.process_view(request, None, (), {}) is not None


def identify(request) -> Caller:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            return Caller(None, frozenset(), problem=(401, "unauthenticated", "use Bearer <token>"))
        token = tokens.authenticate(raw.strip())
        if token is None:
            return Caller(
                None,
                frozenset(),
                problem=(401, "unauthenticated", "the token is unknown, expired or revoked"),
            )
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return Caller(token.user, frozenset(token.scopes) & ALL_SCOPES, token)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return Caller(
            None, frozenset(), problem=(401, "unauthenticated", "sign in or send a token")
        )
    if request.method == "POST" and _csrf_problem(request):
        return Caller(
            None, frozenset(), problem=(403, "csrf", "the CSRF token is missing or wrong")
        )
    return Caller(user, ALL_SCOPES)
