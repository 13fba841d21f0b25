from django.apps import AppConfig


class PacksConfig(AppConfig):
    """Template packs: install, upgrade, uninstall and export bundles of definitions."""

    name = "templates_lib"
    label = "templates_lib"
    verbose_name = "Packs"

    def ready(self) -> None:
        from .sample import load_generators

        load_generators()
