"""Operators see campaign entries and messages, and set the channel limits, in the Django admin."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import CampaignState, ChannelLimit, Entry, Message, Unsubscribe


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Entry)
class EntryAdmin(ReadOnly):
    list_display = (
        "id",
        "campaign_key",
        "subject",
        "key",
        "variant",
        "entered_at",
        "converted_at",
        "held",
    )
    list_filter = ("campaign_key", "variant", "held")
    search_fields = ("campaign_key", "key")
    raw_id_fields = ("subject", "run")


@admin.register(Message)
class MessageAdmin(ReadOnly):
    list_display = (
        "id",
        "campaign_key",
        "node",
        "channel",
        "subject_id",
        "status",
        "created_at",
        "sent_at",
        "opened_at",
        "clicked_at",
    )
    list_filter = ("campaign_key", "channel", "status")
    search_fields = ("key", "address")
    raw_id_fields = ("run",)


@admin.register(Unsubscribe)
class UnsubscribeAdmin(ReadOnly):
    list_display = ("subject", "channel", "at")
    raw_id_fields = ("subject", "message")


@admin.register(CampaignState)
class CampaignStateAdmin(ReadOnly):
    list_display = ("campaign_key", "paused", "paused_at", "event_cursor")


@admin.register(ChannelLimit)
class ChannelLimitAdmin(admin.ModelAdmin):
    list_display = (
        "channel",
        "cap_count",
        "cap_period",
        "quiet_start",
        "quiet_end",
        "rate_per_minute",
    )
