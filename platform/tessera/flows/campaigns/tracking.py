"""Signed links in messages: opens, clicks and the unsubscribe link.

A token names a message (and a link of it) and is signed with ``django.core.signing`` under
a salt of its own, so nobody can forge an open, a click or someone else's unsubscribe, and
a click can only lead where the message's own link led (no open redirect): the target is
read from the message row, by index, never from the URL.
"""

from __future__ import annotations

import html as html_lib
import re

from django.conf import settings
from django.core import signing

SALT = "tessera.campaigns.tracking"
OPEN, CLICK, UNSUBSCRIBE = "o", "k", "u"
PREFIX = "/c"

_HREF = re.compile(r"""(href\s*=\s*)(["'])(https?://[^"'\s<>]+)\2""", re.IGNORECASE)
_URL = re.compile(r"""https?://[^\s<>"']+""")
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT)


def base_url() -> str:
    configured = getattr(settings, "TESSERA_BASE_URL", "") or getattr(
        settings, "WAGTAILADMIN_BASE_URL", "http://127.0.0.1:8000"
    )
    return configured.rstrip("/")


def token(kind: str, message_id: int, index: int | None = None) -> str:
    value = f"{kind}{message_id}" if index is None else f"{kind}{message_id}.{index}"
    return _signer().sign(value)


def read(text: str, kind: str) -> tuple[int, int | None] | None:
    """(message id, link index) from a token of ``kind``; None if forged or malformed."""
    try:
        value = _signer().unsign(text)
    except signing.BadSignature:
        return None
    if not value.startswith(kind):
        return None
    head, _, index = value[1:].partition(".")
    if not head.isdigit() or (index and not index.isdigit()):
        return None
    return int(head), int(index) if index else None


def url(kind: str, message_id: int, index: int | None = None) -> str:
    return f"{base_url()}{PREFIX}/{kind}/{token(kind, message_id, index)}"


def unsubscribe_url(message_id: int) -> str:
    return url(UNSUBSCRIBE, message_id)


class Links:
    """The targets of one message's tracked links, in order; the same URL keeps one index."""

    def __init__(self, message_id: int, skip: str):
        self.message_id = message_id
        self.skip = skip  # the unsubscribe URL is never wrapped
        self.targets: list[str] = []

    def tracked(self, target: str) -> str:
        target = html_lib.unescape(target)
        if target.startswith(self.skip) or target.startswith(base_url() + PREFIX + "/"):
            return target
        if target not in self.targets:
            self.targets.append(target)
        return url(CLICK, self.message_id, self.targets.index(target))

    def html(self, source: str) -> str:
        """Wrap each http(s) href, and add the open pixel."""

        def swap(match: re.Match) -> str:
            wrapped = html_lib.escape(self.tracked(match.group(3)), quote=True)
            return f"{match.group(1)}{match.group(2)}{wrapped}{match.group(2)}"

        out = _HREF.sub(swap, source)
        pixel = (
            f'<img src="{url(OPEN, self.message_id)}" width="1" height="1" alt="" '
            'style="display:none">'
        )
        if _BODY_END.search(out):
            return _BODY_END.sub(lambda m: pixel + m.group(0), out, count=1)
        return out + pixel

    def text(self, source: str) -> str:
        return _URL.sub(lambda m: self.tracked(m.group(0)), source)
