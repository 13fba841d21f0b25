"""The Celery app: one per process, configured from Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tessera.settings")

app = Celery("tessera")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def schedule_tick(sender: Celery, **kwargs: object) -> None:
    """Register the timer tick with beat; the interval comes from settings."""
    from django.conf import settings

    sender.add_periodic_task(
        settings.TESSERA_TICK_SECONDS, sender.signature("tessera.timers.tick"), name="tick"
    )
