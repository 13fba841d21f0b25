"""Operators manage roles' rights and see (never read) tokens in the Django admin."""

from django.contrib import admin

from .models import AccessToken, ObjectPermission


@admin.register(ObjectPermission)
class ObjectPermissionAdmin(admin.ModelAdmin):
    list_display = ("group", "object_key", "can_read", "can_create", "can_update", "can_delete")
    list_filter = ("group", "object_key")


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    """Tokens are issued through GraphQL; here they can be looked at, expired or revoked."""

    list_display = ("name", "user", "prefix", "scopes", "last_used_at", "revoked_at")
    readonly_fields = ("user", "prefix", "digest", "scopes", "created_at", "last_used_at")
    fields = (*readonly_fields, "name", "expires_at", "revoked_at")

    def has_add_permission(self, request) -> bool:
        return False
