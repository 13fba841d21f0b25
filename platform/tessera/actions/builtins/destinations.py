"""Where a webhook may go: not into the server's own network unless an operator says so.

Webhook URLs are written by business users in definitions and packs, and the worker that
sends them sits inside the deployment's network. Without this check a URL such as
``http://169.254.169.254/`` or ``http://10.0.0.5:5432/`` turns the worker into a probe of
everything it can reach (SSRF). Every address the host name resolves to must be public,
unless the host is listed in ``TESSERA_WEBHOOK_ALLOWED_HOSTS`` or
``TESSERA_WEBHOOK_ALLOW_PRIVATE`` is on (the default with ``DEBUG``, for local receivers).

The check resolves the name just before the request; a resolver that answers differently a
moment later (DNS rebinding) is not covered here, and the operator's egress firewall stays
the last line.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from ..types import PermanentFailure, RetryLater


def check_destination(url: str) -> None:
    """Raise ``PermanentFailure`` for a private destination, ``RetryLater`` if DNS fails."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    allowed = {h.lower() for h in settings.TESSERA_WEBHOOK_ALLOWED_HOSTS}
    if settings.TESSERA_WEBHOOK_ALLOW_PRIVATE or host in allowed:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise RetryLater(f"cannot resolve {host!r}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            raise PermanentFailure(
                f"{host!r} resolves to {address}, a private or reserved address: add the host "
                "to TESSERA_WEBHOOK_ALLOWED_HOSTS to send there"
            )
