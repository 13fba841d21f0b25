"""What the API stores: personal access tokens and the rights each role has on each object."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models


class AccessToken(models.Model):
    """A personal access token: only its SHA-256 is kept, so a leaked table leaks no token.

    ``scopes`` narrow what the token may do on top of its user's own rights: ``read``
    (queries), ``write`` (record mutations), ``definitions`` (saving and publishing).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="first characters, to recognise a token")
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user_id}"


class RowScope(models.TextChoices):
    ALL = "all", "All records"
    OWN = "own", "Records the user created"
    TEAM = "team", "Records created by anyone sharing a group with the user"


class ObjectPermission(models.Model):
    """What one role (a Django group) may do with the records of one object.

    Fields are an allow-list: a role reads and writes only the fields named here (``["*"]``
    grants all). ``condition`` narrows the rows further, in the condition language, with
    ``$user.id`` / ``$user.username`` / ``$user.email`` standing for the person asking.
    A role that may not read gets no other right on the object either.
    """

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="object_permissions")
    object_key = models.SlugField(max_length=64)
    can_read = models.BooleanField(default=True)
    can_create = models.BooleanField(default=False)
    can_update = models.BooleanField(default=False)
    can_delete = models.BooleanField(default=False)
    read_fields = models.JSONField(default=list, blank=True)
    write_fields = models.JSONField(default=list, blank=True)
    rows = models.CharField(max_length=10, choices=RowScope.choices, default=RowScope.ALL)
    condition = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "object_key"], name="api_permission_role")
        ]

    def __str__(self) -> str:
        return f"{self.group} on {self.object_key}"
