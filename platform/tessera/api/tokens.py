"""Personal access tokens: issued once in clear, kept as a SHA-256, revocable, scoped."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from .models import AccessToken

PREFIX = "tsr_"
SCOPES = ("read", "write", "definitions")


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def issue(
    user, name: str, scopes: list[str] | None = None, *, expires_at: datetime | None = None
) -> tuple[str, AccessToken]:
    """A new token for ``user``; the clear text is returned here and never stored."""
    scopes = list(scopes if scopes is not None else ["read"])
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; known: {', '.join(SCOPES)}")
    raw = PREFIX + secrets.token_urlsafe(32)
    token = AccessToken.objects.create(
        user=user,
        name=name[:100],
        prefix=raw[:12],
        digest=digest(raw),
        scopes=scopes,
        expires_at=expires_at,
    )
    return raw, token


def authenticate(raw: str) -> AccessToken | None:
    """The live token with this clear text (with its user), or None. One query."""
    if not raw.startswith(PREFIX) or len(raw) > 200:
        return None
    now = timezone.now()
    return (
        AccessToken.objects.select_related("user")
        .filter(digest=digest(raw), revoked_at__isnull=True, user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )


def revoke(token: AccessToken) -> None:
    AccessToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
