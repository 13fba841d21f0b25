from django.apps import AppConfig


class TesseraConfig(AppConfig):
    """Wires the engine together once every layer is loaded: the plugin registries.

    Built-ins of every layer register first, through the same API plugins use; then the
    ``tessera.plugins`` entry points of installed packages.
    """

    name = "tessera"
    label = "tessera"
    verbose_name = "Tessera"

    def ready(self) -> None:
        from tessera import plugins
        from tessera.conditions.operators import register as register_operators
        from tessera.definitions.fields.builtins import register as register_field_types

        plugins.load_plugins([register_field_types, register_operators])
