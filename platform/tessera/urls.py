"""URLs: the Wagtail admin for business users, Django's admin for operators, health."""

from django.contrib import admin
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls

from tessera.api.view import graphql
from tessera.health import health

urlpatterns = [
    path("health", health, name="health"),
    path("graphql", graphql, name="graphql"),
    path("", include("tessera.exchange.urls")),
    path("c/", include("tessera.flows.campaigns.urls")),  # campaign tracking and unsubscribe
    path("app/", include("frontend.urls")),  # the operator UI
    path("admin/tessera/", include("builders.urls")),  # definitions, builders, packs
    path("django-admin/", admin.site.urls),
    path("admin/", include(wagtailadmin_urls)),
    path("", include(wagtail_urls)),
]
