"""Operators see pending and failed timers in the Django admin, and retry failed ones."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import service
from .models import Timer, TimerStatus


@admin.register(Timer)
class TimerAdmin(admin.ModelAdmin):
    list_display = ("id", "purpose", "owner", "status", "due_at", "attempts", "short_error")
    list_filter = ("status", "purpose")
    search_fields = ("owner",)
    ordering = ("due_at", "id")
    show_full_result_count = False  # a million pending timers: count once, not twice
    readonly_fields = (
        "purpose",
        "owner",
        "due_at",
        "payload",
        "status",
        "attempts",
        "last_error",
        "created_at",
    )
    actions = ["retry_timers"]

    @admin.display(description="last error")
    def short_error(self, timer: Timer) -> str:
        return timer.last_error.splitlines()[0][:120] if timer.last_error else ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # timers are scheduled by the flows that own them, not by hand

    @admin.action(description="Retry the selected failed timers now", permissions=["change"])
    def retry_timers(self, request: HttpRequest, queryset: QuerySet[Timer]) -> None:
        failed = list(queryset.filter(status=TimerStatus.FAILED).values_list("pk", flat=True))
        for pk in failed:
            service.retry(pk)
        skipped = queryset.count() - len(failed)
        self.message_user(request, f"{len(failed)} timer(s) will fire at the next tick.")
        if skipped:
            self.message_user(
                request,
                f"{skipped} timer(s) were not failed and were left as they are.",
                messages.WARNING,
            )
