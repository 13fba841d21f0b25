"""The ``award_points`` action: add loyalty points to an integer field of the subject record.

A database-only effect, so it is transactional: the points and the outbox row's ``sent``
commit together with the flow step that asked for them, exactly once.
"""

from __future__ import annotations

from typing import Any

from tessera.actions import subject
from tessera.actions.fields import check_field
from tessera.actions.types import ActionType, Effect


class AwardPoints(ActionType):
    """Add ``points`` (1 to 100,000) to ``field`` (default ``points``) of the record."""

    type = "award_points"
    label = {"en": "Award loyalty points", "zh": "赠送积分"}
    transactional = True
    params_schema = {
        "type": "object",
        "required": ["points"],
        "additionalProperties": False,
        "properties": {
            "points": {"type": "integer", "minimum": 1, "maximum": 100_000},
            "field": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$", "default": "points"},
        },
    }

    def check(self, params: dict[str, Any], *, object_key: str | None, path: str):
        errors = super().check(params, object_key=object_key, path=path)  # the schema, by path
        if errors:
            return errors
        field = params.get("field", "points")
        return check_field(object_key, field, f"{path}.field", x_types={"integer"})

    def perform(self, effect: Effect) -> dict[str, Any]:
        field = effect.params.get("field", "points")
        points = effect.params["points"]
        record, _ = subject.update(effect, lambda data: {field: (data.get(field) or 0) + points})
        return {"points": record.data[field]}
