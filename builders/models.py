"""Screen pages (the Wagtail way to build a screen) and the log of who did what to definitions."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page

from .screen_blocks import SCREEN_BLOCKS, screen_blocks

KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class ScreenPage(Page):
    """A screen operators work in, built from blocks; publishing the page publishes the
    ``screen`` definition of the same key. Its privacy settings decide who sees it."""

    screen_key = models.CharField(
        max_length=64,
        unique=True,
        blank=True,
        verbose_name=_("screen key"),
        help_text=_("Lower-case letters, digits, - and _; empty: the page's slug."),
    )
    title_zh = models.CharField(max_length=255, blank=True, verbose_name=_("title (Chinese)"))
    navigation_order = models.IntegerField(default=100, verbose_name=_("place in the navigation"))
    body = StreamField(SCREEN_BLOCKS, blank=True, verbose_name=_("blocks"))

    content_panels = [
        *Page.content_panels,
        FieldPanel("title_zh"),
        FieldPanel("screen_key"),
        FieldPanel("navigation_order"),
        FieldPanel("body"),
    ]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("screen")
        verbose_name_plural = _("screens")

    @property
    def key(self) -> str:
        return self.screen_key or self.slug

    def screen_body(self) -> dict[str, Any]:
        label = {"en": self.title}
        if self.title_zh:
            label["zh"] = self.title_zh
        return {
            "x-label": label,
            "order": self.navigation_order,
            "blocks": screen_blocks(self.body),
        }

    def clean(self) -> None:
        super().clean()
        if not KEY.fullmatch(self.key or ""):
            raise ValidationError(
                {
                    "screen_key": _(
                        "Give a key of lower-case letters, digits, - and _ (the slug is not one)."
                    )
                }
            )
        from tessera.definitions.service import body_errors

        problems = body_errors("screen", self.key, self.screen_body())
        if problems:
            raise ValidationError({"body": [f"{e.path}: {e.message}" for e in problems[:5]]})

    def save(self, *args, **kwargs):
        if not self.screen_key and KEY.fullmatch(self.slug or ""):
            self.screen_key = self.slug
        super().save(*args, **kwargs)

    def serve(self, request, *args, **kwargs):
        """The live page is the operators' screen."""
        return HttpResponseRedirect(reverse("frontend:screen", args=[self.key]))

    def serve_preview(self, request, mode_name):
        from .previews import screen_previews

        return screen_previews.get("screen").render(request, self.key, self.screen_body())


class Activity(models.Model):
    """One thing a person did to a definition in the admin: saved a draft, published, rolled
    back, archived. The versions themselves live in the definitions store."""

    class Action(models.TextChoices):
        DRAFT = "draft", _("saved a draft")
        PUBLISH = "publish", _("published")
        ROLLBACK = "rollback", _("rolled back")
        ARCHIVE = "archive", _("archived")
        DISCARD = "discard", _("discarded the draft")

    at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20)
    key = models.SlugField(max_length=64)
    version = models.PositiveIntegerField(null=True, blank=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["kind", "key", "at"])]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.user} {self.action} {self.kind}:{self.key} v{self.version}"
