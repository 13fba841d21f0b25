from django.apps import AppConfig


class DefinitionsConfig(AppConfig):
    """The definitions store: every kind of definition, its versions and the revision."""

    name = "tessera.definitions"
    label = "definitions"
    verbose_name = "Definitions"
