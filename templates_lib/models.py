"""What the installer records: which packs are installed, what each one owns, what it did."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class InstalledPack(models.Model):
    """A template pack installed in this instance, at one version."""

    key = models.SlugField(max_length=64, unique=True)
    name = models.JSONField(help_text="{en, zh}")
    version = models.CharField(max_length=40)
    manifest = models.JSONField(help_text="the manifest of the installed version")
    installed_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    installed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["key"]
        permissions = [
            ("manage_packs", "Can plan, install, upgrade, uninstall and export template packs")
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.version}"

    @property
    def depends(self) -> dict[str, str]:
        return dict(self.manifest.get("depends") or {})


class InstalledDefinition(models.Model):
    """A definition a pack owns; ``body`` is what the pack delivered.

    That body is the base of the three-way comparison at the next upgrade: the published
    body differs from it exactly when a person changed the definition after the install.
    A (kind, key) has at most one owner, so two packs never fight over a definition.
    """

    pack = models.ForeignKey(InstalledPack, on_delete=models.CASCADE, related_name="definitions")
    kind = models.CharField(max_length=20)
    key = models.SlugField(max_length=64)
    version = models.PositiveIntegerField(help_text="the definition version the pack published")
    body = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="pack_definition_one_owner")
        ]
        ordering = ["pack", "kind", "key"]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key} from {self.pack_id}"


class InstalledRecord(models.Model):
    """A sample record a pack loaded under a local reference.

    Other rows of the pack (and of the packs that depend on it, as ``pack:ref``) point at
    it by that reference. The id is not a foreign key: people may delete sample records.
    """

    pack = models.ForeignKey(InstalledPack, on_delete=models.CASCADE, related_name="records")
    ref = models.CharField(max_length=200)
    object_key = models.SlugField(max_length=64)
    record_id = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pack", "ref"], name="pack_record_ref")]

    def __str__(self) -> str:
        return f"{self.pack_id}:{self.ref} = {self.object_key}#{self.record_id}"


class PackLog(models.Model):
    """One install, upgrade or uninstall: who, when, from and to which version, what changed."""

    class Action(models.TextChoices):
        INSTALL = "install"
        UPGRADE = "upgrade"
        UNINSTALL = "uninstall"

    pack_key = models.SlugField(max_length=64)
    action = models.CharField(max_length=10, choices=Action.choices)
    from_version = models.CharField(max_length=40, blank=True)
    to_version = models.CharField(max_length=40, blank=True)
    summary = models.JSONField(default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.pack_key} {self.from_version}->{self.to_version}"
