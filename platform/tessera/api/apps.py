from django.apps import AppConfig


class ApiConfig(AppConfig):
    """GraphQL generated from the published definitions, with authentication, permissions and limits."""

    name = "tessera.api"
    label = "api"
    verbose_name = "API"
