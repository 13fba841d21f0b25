from django.apps import AppConfig


class FlowsConfig(AppConfig):
    """Registers the workflow kind, the flow compilers, the timers that wake runs, the
    ``assign`` action and the observer that starts workflows with their records.

    Node types and the ``assign`` action are built-ins of the plugin registries, installed
    through the API a plugin uses (``register_node_types`` below).
    """

    name = "tessera.flows"
    label = "flows"
    verbose_name = "Flows"

    def ready(self) -> None:
        from tessera import plugins
        from tessera.definitions.kinds import kinds
        from tessera.records.observers import observers
        from tessera.timers.handlers import TimerHandler, handlers

        from . import sla, timers
        from .graph import flow_kinds
        from .observer import OBSERVER
        from .workflow import WORKFLOW_FLOW, WORKFLOW_KIND

        if "state" not in plugins.node_types:
            plugins._install(register_node_types, "builtin", plugins.registries)
        if WORKFLOW_KIND.type not in kinds:
            kinds.register(WORKFLOW_KIND)
        if WORKFLOW_FLOW.type not in flow_kinds:
            flow_kinds.register(WORKFLOW_FLOW)
        if OBSERVER.type not in observers:
            observers.register(OBSERVER)
        for purpose, fire in (
            (timers.WAKE, timers.wake),
            (timers.AUTO, timers.auto),
            (sla.REMIND, sla.remind),
            (sla.BREACH, sla.breach),
        ):
            if purpose not in handlers:
                handlers.register(TimerHandler(type=purpose, fire=fire))

        # --- Campaigns (issue 7): the campaign kind and its parts, on this runtime.
        from .campaigns import register as register_campaigns

        register_campaigns()


def register_node_types(registries) -> None:
    """The built-in node types and the ``assign`` action, as a plugin registers its own."""
    from .assign_action import AssignAction
    from .nodes import BUILTIN_NODE_TYPES

    for node_type in BUILTIN_NODE_TYPES:
        registries.node_types.register(node_type)
    registries.actions.register(AssignAction())
