from django.apps import AppConfig


class ApiConfig(AppConfig):
    """GraphQL generated from the published definitions, with auth, permissions and limits."""

    name = "tessera.api"
    label = "api"
    verbose_name = "API"
