from django.apps import AppConfig


class PacksConfig(AppConfig):
    """Template packs: install, upgrade, uninstall and export bundles of definitions."""

    name = "templates_lib"
    label = "templates_lib"
    verbose_name = "Packs"
