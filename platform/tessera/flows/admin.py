"""Operators see runs and their history in the Django admin; runs change only through flows."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import Run, Step


class StepInline(admin.TabularInline):
    model = Step
    extra = 0
    can_delete = False
    fields = ("at", "kind", "transition", "from_node", "to_node", "actor", "comment", "data")
    readonly_fields = fields
    ordering = ("at", "pk")

    def has_add_permission(self, request: HttpRequest, obj: Run | None = None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "flow_kind",
        "flow_key",
        "flow_version",
        "subject",
        "node",
        "status",
        "assignee",
        "updated_at",
    )
    list_filter = ("flow_kind", "status", "flow_key")
    search_fields = ("flow_key", "node", "subject__id")
    readonly_fields = (
        "flow_kind",
        "flow_key",
        "flow_version",
        "subject",
        "object_key",
        "node",
        "status",
        "version",
        "visits",
        "assignee",
        "data",
        "error",
        "started_by",
        "started_at",
        "updated_at",
        "ended_at",
    )
    inlines = [StepInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs start with their records or through flows.service.start

    def has_change_permission(self, request: HttpRequest, obj: Run | None = None) -> bool:
        return False  # moves go through transitions, which check guards, roles and versions
