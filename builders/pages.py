"""Screen pages and the definitions store kept in step: publishing a screen page publishes its
screen, unpublishing or deleting it archives the screen.

Wagtail's ``page_published`` / ``page_unpublished`` signals are the one place every way of
publishing a page passes (the editor, scheduled publishing, reverting, bulk actions).
"""

from __future__ import annotations

from tessera.definitions import service

from .models import Activity, ScreenPage


def screen_published(sender, instance, revision=None, **kwargs) -> None:
    page = instance.specific if not isinstance(instance, ScreenPage) else instance
    if not isinstance(page, ScreenPage):
        return
    user = getattr(revision, "user", None)
    definition = service.save_and_publish(
        "screen", page.key, page.screen_body(), author=user, comment=f"screen page {page.pk}"
    )
    Activity.objects.create(
        user=user,
        kind="screen",
        key=page.key,
        version=definition.version,
        action="publish",
        comment=f"published the screen page {page.title!r}",
    )


def screen_unpublished(sender, instance, **kwargs) -> None:
    page = instance.specific if not isinstance(instance, ScreenPage) else instance
    if isinstance(page, ScreenPage) and service.archive("screen", page.key) is not None:
        Activity.objects.create(
            kind="screen", key=page.key, action="archive", comment=f"unpublished {page.title!r}"
        )


def connect() -> None:
    from wagtail.signals import page_published, page_unpublished

    page_published.connect(screen_published, sender=ScreenPage, dispatch_uid="tessera-screen-pub")
    page_unpublished.connect(
        screen_unpublished, sender=ScreenPage, dispatch_uid="tessera-screen-unpub"
    )
