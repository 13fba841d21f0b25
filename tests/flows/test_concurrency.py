"""Two people move the same ticket from the same state at once: one wins, one is told."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from tessera.flows import service
from tessera.flows.errors import VersionConflict
from tessera.flows.models import Run, StepKind


@pytest.mark.django_db(transaction=True)
def test_concurrent_transitions_one_wins_the_other_conflicts(new_ticket, people):
    run = Run.objects.get(subject=new_ticket())
    version = run.version
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def move(who: str, name: str, **kwargs) -> None:
        try:
            barrier.wait(timeout=10)
            service.transition(run.pk, name, actor=people[who], version=version, **kwargs)
            outcomes[who] = "moved"
        except VersionConflict as exc:
            outcomes[who] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=move, args=("li", "approve"), kwargs={"fields": {"reason": "r"}}),
        threading.Thread(target=move, args=("wang", "reject"), kwargs={"comment": "no"}),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(type(o).__name__ for o in outcomes.values()) == ["VersionConflict", "str"]
    run.refresh_from_db()
    winner = next(who for who, o in outcomes.items() if o == "moved")
    assert run.node == {"li": "approved", "wang": "rejected"}[winner]
    assert run.steps.filter(kind=StepKind.TRANSITION).count() == 1
