from django.apps import AppConfig


class RecordsConfig(AppConfig):
    """Records of every object, their events and history; registers the object kind."""

    name = "tessera.records"
    label = "records"
    verbose_name = "Records"

    def ready(self) -> None:
        from tessera.definitions.kinds import kinds

        from .object_kind import OBJECT_KIND

        if "object" not in kinds:
            kinds.register(OBJECT_KIND)

        from tessera.timers.tasks import tick_steps

        from .rollups import sweep_expired

        if sweep_expired not in tick_steps:
            tick_steps.append(sweep_expired)
