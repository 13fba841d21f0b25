"""What a person is told when a run refuses to move."""

from __future__ import annotations

from tessera.definitions.errors import FieldError


class TransitionRefused(Exception):
    """The transition cannot be taken; ``errors`` name the JSON path of each reason.

    Paths are relative to the request: ``$.transition`` (unknown or not available from the
    current state), ``$.fields.<name>`` (a required field missing or invalid), ``$.guard``,
    ``$.actor`` (the person's roles), ``$.comment``.
    """

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))


class VersionConflict(Exception):
    """Someone moved the run since the person loaded it; reload and try again."""

    def __init__(self, run_id: int, expected: int, actual: int):
        self.run_id, self.expected, self.actual = run_id, expected, actual
        super().__init__(
            f"run {run_id} is at version {actual}, not {expected}: it was moved meanwhile"
        )


class RunNotActive(Exception):
    """The run has ended (completed, failed or cancelled) and takes no more steps."""
