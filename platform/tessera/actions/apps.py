from django.apps import AppConfig


class ActionsConfig(AppConfig):
    """The action registry and the outbox through which every effect of a flow happens once.

    Registers the built-in action types through the plugin API (marked as built-ins, as the
    other layers' are) and the tick step that re-dispatches outbox entries.
    """

    name = "tessera.actions"
    label = "actions"
    verbose_name = "Actions"

    def ready(self) -> None:
        from tessera import plugins
        from tessera.timers.tasks import tick_steps

        from .builtins import BUILTIN_TYPES, register
        from .outbox import redispatch_due

        if not any(t.type in plugins.actions for t in BUILTIN_TYPES):
            # _install is what load_plugins does for every built-in: the items say "builtin"
            # as their origin, and a failure takes back whatever was half-registered.
            plugins._install(register, "builtin", plugins.registries)
        if redispatch_due not in tick_steps:
            tick_steps.append(redispatch_due)
