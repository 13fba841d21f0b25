from django.apps import AppConfig


class ActionsConfig(AppConfig):
    """The action registry and the outbox through which every effect of a flow happens once."""

    name = "tessera.actions"
    label = "actions"
    verbose_name = "Actions"
