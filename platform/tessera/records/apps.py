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
