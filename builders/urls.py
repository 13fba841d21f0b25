"""The builders' admin views, under /admin/tessera/ (see access.py for who may open them)."""

from django.urls import path

from .views import definitions, packs, previews

app_name = "builders"

urlpatterns = [
    path("definitions/", definitions.index, name="index"),
    path("definitions/<slug:kind>/", definitions.listing, name="listing"),
    path("definitions/<slug:kind>/add/", definitions.edit, name="add"),
    path("definitions/<slug:kind>/<slug:key>/edit/", definitions.edit, name="edit"),
    path("definitions/<slug:kind>/<slug:key>/history/", definitions.history, name="history"),
    path(
        "definitions/<slug:kind>/<slug:key>/rollback/<int:version>/",
        definitions.rollback,
        name="rollback",
    ),
    path("definitions/<slug:kind>/<slug:key>/archive/", definitions.archive, name="archive"),
    path("preview/screen/<slug:key>/", previews.screen, name="preview-screen"),
    path("packs/", packs.index, name="packs"),
    path("packs/<slug:key>/plan/", packs.plan, name="pack-plan"),
    path("packs/<slug:key>/install/", packs.install, name="pack-install"),
    path("packs/<slug:key>/uninstall/", packs.uninstall, name="pack-uninstall"),
]
