"""Who a ticket goes to: round-robin or least-loaded among a group's members, or a record field.

Groups are Django auth groups (the same groups that hold roles), members ordered by id so
round-robin is fair and repeatable. The chosen person is kept on the run and, with
``assignment.field``, written to the record (their username), so screens and segments see it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q

from .models import AssignmentCursor, Run, RunStatus, StepKind

Strategy = Callable[[Run, dict[str, Any]], Any]


def _members(group: str) -> list[Any]:
    User = get_user_model()
    return list(User.objects.filter(groups__name=group, is_active=True).order_by("pk"))


def round_robin(run: Run, rule: dict[str, Any]) -> Any:
    members = _members(rule["group"])
    if not members:
        return None
    cursor, _ = AssignmentCursor.objects.select_for_update().get_or_create(
        flow_key=run.flow_key, group=rule["group"]
    )
    after = [m for m in members if cursor.last_user_id is None or m.pk > cursor.last_user_id]
    chosen = (after or members)[0]
    cursor.last_user_id = chosen.pk
    cursor.save(update_fields=["last_user_id"])
    return chosen


def least_loaded(run: Run, rule: dict[str, Any]) -> Any:
    """The member with the fewest active runs of this flow; ties go to the earliest member."""
    members = _members(rule["group"])
    if not members:
        return None
    counts = dict(
        Run.objects.filter(
            flow_kind=run.flow_kind,
            flow_key=run.flow_key,
            status=RunStatus.ACTIVE,
            assignee__in=members,
        )
        .exclude(pk=run.pk)
        .values("assignee")
        .annotate(n=Count("pk"))
        .values_list("assignee", "n")
    )
    return min(members, key=lambda m: (counts.get(m.pk, 0), m.pk))


def from_field(run: Run, rule: dict[str, Any]) -> Any:
    """The person named (username or email) in a field of the record."""
    from tessera.records.models import Record

    value = Record.objects.get(pk=run.subject_id).data.get(rule.get("from_field", ""))
    if not isinstance(value, str) or not value:
        return None
    User = get_user_model()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(username=value) | Q(email__iexact=value))
        .order_by("pk")
        .first()
    )


STRATEGIES: dict[str, Strategy] = {
    "round_robin": round_robin,
    "least_loaded": least_loaded,
    "field": from_field,
}


def assign(
    run: Run,
    rule: dict[str, Any],
    *,
    actor: Any = None,
    reason: str = "",
    write_record: bool = True,
) -> Any:
    """Choose an assignee by ``rule`` and record it on the run, the record and in history.

    ``write_record=False``: the caller writes ``rule["field"]`` itself, with other changes.
    """
    from .runtime import record_step

    chosen = STRATEGIES[rule["strategy"]](run, rule)
    previous = run.assignee_id
    run.assignee = chosen
    run.save(update_fields=["assignee", "updated_at"])
    if rule.get("field") and write_record:
        from tessera.records.models import Record
        from tessera.records.service import update

        record = Record.objects.select_for_update().get(pk=run.subject_id)
        name = chosen.get_username() if chosen else None
        if record.data.get(rule["field"]) != name:
            update(
                record.object_key,
                record.pk,
                {rule["field"]: name},
                version=record.version,
                actor=actor,
                comment=reason or "assigned",
            )
    record_step(
        run,
        StepKind.ASSIGN,
        from_node=run.node,
        to_node=run.node,
        actor=actor,
        comment=reason,
        data={"from": previous, "to": chosen.pk if chosen else None, "strategy": rule["strategy"]},
    )
    return chosen
