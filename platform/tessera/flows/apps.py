from django.apps import AppConfig


class FlowsConfig(AppConfig):
    """The generic flow runtime: runs, steps, node types, workflow transitions and SLAs."""

    name = "tessera.flows"
    label = "flows"
    verbose_name = "Flows"
