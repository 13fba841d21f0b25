from django.apps import AppConfig


class BuildersConfig(AppConfig):
    """Business users' tools in the Wagtail admin: definitions, builders, screens, packs."""

    name = "builders"
    label = "builders"
    verbose_name = "Builders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .pages import connect

        connect()
