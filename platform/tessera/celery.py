"""The Celery app: one per process, configured from Django settings (CELERY_*)."""

import os

from celery import Celery

from .embedded_broker import register as register_embedded_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tessera.settings")

register_embedded_broker()
app = Celery("tessera")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def schedule_tick(sender: Celery, **kwargs: object) -> None:
    """Register the periodic tasks with beat; the interval comes from settings.

    ``tick`` does what is due (durable timers live in the database, never in long ETAs);
    ``worker-ping`` proves a worker takes tasks, for /health. A message not taken within two
    intervals expires, so a stopped worker does not come back to a pile of stale ticks.
    """
    from django.conf import settings

    every = float(settings.TESSERA_TICK_SECONDS)
    options = {"expires": max(2 * every, 10.0), "ignore_result": True}
    sender.add_periodic_task(
        every, sender.signature("tessera.timers.tick", options=options), name="tick"
    )
    sender.add_periodic_task(
        every, sender.signature("tessera.timers.ping", options=options), name="worker-ping"
    )
    sender.add_periodic_task(
        3600.0,
        sender.signature("tessera.actions.purge", options={"expires": 3600.0}),
        name="outbox-purge",
    )
