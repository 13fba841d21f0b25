from django.apps import AppConfig


class TimersConfig(AppConfig):
    """Durable timers and the periodic tick that fires them; the calendar kind."""

    name = "tessera.timers"
    label = "timers"
    verbose_name = "Timers"

    def ready(self) -> None:
        from tessera.definitions.kinds import kinds

        from .calendars import CALENDAR_KIND
        from .tasks import due_timers, tick_steps

        if CALENDAR_KIND.type not in kinds:
            kinds.register(CALENDAR_KIND)
        if due_timers not in tick_steps:
            tick_steps.append(due_timers)
