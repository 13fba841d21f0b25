from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    """Imports, duplicate merging, ingestion from order systems and exports.

    At start-up it registers the cell converters of the built-in field types, the tick step
    that resumes imports whose worker died, the step that forgets ingestion signatures older
    than the replay window, and its GraphQL fields (merges, duplicates, import progress).
    """

    name = "tessera.exchange"
    label = "exchange"
    verbose_name = "Data exchange"

    def ready(self) -> None:
        from tessera.timers.tasks import tick_steps

        from .convert import register_builtins
        from .ingest import forget_old_deliveries
        from .jobs import resume_stalled

        register_builtins()

        from tessera.api.extensions import extensions

        from .graphql import ExchangeFields

        if ExchangeFields.type not in extensions:
            extensions.register(ExchangeFields())
        for step in (resume_stalled, forget_old_deliveries):
            if step not in tick_steps:
                tick_steps.append(step)
