"""A frozen clock moved by hand, for tests of flows over days: campaigns, the CRM packs.

``tick`` does what the periodic tick and the workers would: fire the timers due now and
perform what the outbox holds, until nothing more is due.
"""

from __future__ import annotations

import datetime as dt

import time_machine


class Clock:
    """The test's clock: frozen, moved by hand; ``tick`` fires timers and delivers the outbox."""

    def __init__(self, start: dt.datetime):
        self.now = start
        self.traveller = time_machine.travel(start, tick=False)

    def __enter__(self) -> Clock:
        self.shift = self.traveller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.traveller.stop()

    def to(self, moment: dt.datetime) -> None:
        self.now = moment
        self.shift.move_to(moment)

    def advance(self, **delta: float) -> None:
        self.to(self.now + dt.timedelta(**delta))

    def tick(self) -> int:
        """Fire what is due now and perform what the outbox holds, like a worker would."""
        from tessera.timers import service as timers

        fired = 0
        while True:
            done = timers.fire_due(now=self.now, limit=5000)
            fired += done
            deliver_all()
            if not done:
                return fired


def deliver_all() -> int:
    """Perform every pending outbox entry now (what workers do after the commit)."""
    from tessera.actions import outbox
    from tessera.actions.models import OutboxEntry, OutboxStatus

    ids = list(OutboxEntry.objects.filter(status=OutboxStatus.PENDING).values_list("pk", flat=True))
    for pk in ids:
        outbox.deliver(pk)
    return len(ids)
