"""A person sees failed entries in the Django admin and retries them there."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from tessera.actions.models import OutboxEntry, OutboxStatus


def make(key: str, status: str, **fields) -> OutboxEntry:
    return OutboxEntry.objects.create(
        key=key, type="webhook", status=status, next_attempt_at=timezone.now(), **fields
    )


def test_failed_entries_are_listed_with_their_error_and_can_be_retried(admin_client, dispatched):
    failed = make(
        "run:1:hook:0",
        OutboxStatus.FAILED,
        attempts=8,
        last_error="gave up after 8 attempts; last: RetryLater: HTTP 503",
    )
    sent = make("run:2:hook:0", OutboxStatus.SENT, attempts=1)
    url = reverse("admin:actions_outboxentry_changelist")

    page = admin_client.get(url, {"status__exact": "failed"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "run:1:hook:0" in text and "gave up after 8 attempts" in text
    assert "run:2:hook:0" not in text

    answer = admin_client.post(
        url,
        {"action": "retry_selected", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )
    assert answer.status_code == 200
    messages = [str(m) for m in answer.context["messages"]]
    assert "1 entry queued again." in messages
    assert "1 sent entry was left alone" in messages
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.status, failed.attempts) == (OutboxStatus.PENDING, 0)
    assert sent.status == OutboxStatus.SENT


def test_the_outbox_cannot_be_edited_by_hand(admin_client):
    entry = make("run:3:hook:0", OutboxStatus.FAILED)
    assert admin_client.get(reverse("admin:actions_outboxentry_add")).status_code == 403
    change = admin_client.get(reverse("admin:actions_outboxentry_change", args=[entry.pk]))
    assert change.status_code == 200 and b'name="key"' not in change.content
    delete = admin_client.get(reverse("admin:actions_outboxentry_delete", args=[entry.pk]))
    assert delete.status_code == 403
