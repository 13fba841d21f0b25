from django.apps import AppConfig


class TimersConfig(AppConfig):
    """Durable timers and the periodic tick that fires them."""

    name = "tessera.timers"
    label = "timers"
    verbose_name = "Timers"
