from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    """Registers the segment kind, the records observer, the reader of static snapshots for
    conditions, and the periodic steps of segments.
    """

    name = "tessera.segments"
    label = "segments"
    verbose_name = "Segments"

    def ready(self) -> None:
        from tessera.conditions.stored import readers
        from tessera.definitions.kinds import kinds
        from tessera.records.observers import observers
        from tessera.timers.tasks import tick_steps

        from .freshness import OBSERVER
        from .kind import SEGMENT_KIND
        from .static import READER
        from .tasks import scoring_step, time_step

        if "segment" not in kinds:
            kinds.register(SEGMENT_KIND)
        if READER.type not in readers:
            readers.register(READER)
        if OBSERVER.type not in observers:
            observers.register(OBSERVER)
        for step in (time_step, scoring_step):
            if step not in tick_steps:
                tick_steps.append(step)
