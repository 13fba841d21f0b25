"""The embedded broker: kombu's SQLAlchemy transport, polled every tenth of a second.

Kombu polls a database queue once a second, and it also waits that second whenever the
worker's slots are full, so a worker on the embedded default took at most ``concurrency``
tasks a second however short they were (a campaign's e-mails trickled out at two a second).
The poll is an indexed read of a local SQLite file; ten a second cost nothing noticeable.
The transport's options cannot carry the interval: it hands them all to ``create_engine``.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES, sqlalchemy

POLLING_SECONDS = 0.1


class Transport(sqlalchemy.Transport):
    polling_interval = POLLING_SECONDS


def register() -> None:
    """Make ``sqla+…`` broker URLs use this transport (kombu's alias registry, at start-up)."""
    TRANSPORT_ALIASES["sqla"] = f"{__name__}:Transport"
