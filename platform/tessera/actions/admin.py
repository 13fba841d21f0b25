"""The outbox in the Django admin: what is waiting, what failed and why, and a retry button."""

from __future__ import annotations

from django.contrib import admin, messages

from .models import OutboxEntry, OutboxStatus
from .outbox import CannotRetry, retry


@admin.register(OutboxEntry)
class OutboxEntryAdmin(admin.ModelAdmin):
    list_display = (
        "key",
        "type",
        "status",
        "attempts",
        "next_attempt_at",
        "short_error",
        "updated_at",
    )
    list_filter = ("status", "type")
    search_fields = ("key",)
    ordering = ("-id",)
    readonly_fields = [f.name for f in OutboxEntry._meta.fields]
    actions = ["retry_selected"]

    @admin.display(description="last error")
    def short_error(self, entry: OutboxEntry) -> str:
        return entry.last_error[:120]

    def has_add_permission(self, request) -> bool:
        return False  # effects enter the outbox from flows, never by hand

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the outbox is the record of what was done

    @admin.action(description="Retry the selected failed or skipped entries")
    def retry_selected(self, request, queryset) -> None:
        done, refused = 0, []
        for entry in queryset.exclude(status=OutboxStatus.SENT):
            try:
                retry(entry.pk)
                done += 1
            except CannotRetry as exc:
                refused.append(str(exc))
        sent = queryset.filter(status=OutboxStatus.SENT).count()
        if done:
            self.message_user(request, f"{done} entr{'y' if done == 1 else 'ies'} queued again.")
        if sent:
            refused.append(f"{sent} sent entr{'y was' if sent == 1 else 'ies were'} left alone")
        for text in refused:
            self.message_user(request, text, messages.WARNING)
