"""Operators see failed timers in the Django admin and retry them with an action."""

from __future__ import annotations

import pytest

from tessera.timers import service as timers
from tessera.timers.models import Timer, TimerStatus
from tests.timers.conftest import T0


@pytest.fixture
def operator(django_user_model, client):
    user = django_user_model.objects.create_superuser("op", "op@example.com", "pw-1234567")
    client.force_login(user)
    return client


def test_failed_timers_are_listed_and_retried_by_the_admin_action(db, operator, recorder, settings):
    settings.TESSERA_TIMERS = {"max_attempts": 1}
    recorder.fail.add("run:bad")
    bad = timers.schedule("test.record", T0, owner="run:bad")
    waiting = timers.schedule("test.record", T0.replace(year=2030), owner="run:later")
    timers.fire_due(now=T0)
    bad.refresh_from_db()
    assert bad.status == TimerStatus.FAILED

    page = operator.get("/django-admin/timers/timer/?status__exact=failed")
    assert page.status_code == 200
    assert b"run:bad" in page.content and b"RuntimeError: boom for run:bad" in page.content
    assert b"run:later" not in page.content

    done = operator.post(
        "/django-admin/timers/timer/",
        {"action": "retry_timers", "_selected_action": [bad.pk, waiting.pk]},
        follow=True,
    )
    assert done.status_code == 200
    messages = [str(m) for m in done.context["messages"]]
    assert messages == [
        "1 timer(s) will fire at the next tick.",
        "1 timer(s) were not failed and were left as they are.",
    ]
    bad.refresh_from_db()
    assert (bad.status, bad.attempts, bad.last_error) == ("pending", 0, "")
    recorder.fail.clear()
    assert timers.fire_due() == 1  # the clock's now: the tick after the click
    assert list(Timer.objects.values_list("owner", flat=True)) == ["run:later"]
    assert operator.get("/django-admin/timers/timer/add/").status_code == 403
