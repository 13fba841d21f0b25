from django.apps import AppConfig


class ConditionsConfig(AppConfig):
    """The condition language: parse, compile to SQL, evaluate in Python."""

    name = "tessera.conditions"
    label = "conditions"
    verbose_name = "Conditions"
