from django.apps import AppConfig


class PacksConfig(AppConfig):
    """Template packs: install, upgrade, uninstall and export bundles of definitions.

    At start-up it registers the sample data generators installed packages declare and
    the GraphQL fields of packs (through the API's extension registry).
    """

    name = "templates_lib"
    label = "templates_lib"
    verbose_name = "Packs"

    def ready(self) -> None:
        from tessera.api.extensions import extensions

        from .graphql import PackFields
        from .sample import load_generators

        load_generators()
        if PackFields.type not in extensions:
            extensions.register(PackFields())
