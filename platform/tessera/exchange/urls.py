"""``/ingest/<source>/<object>``, ``/export/<object>.csv|xlsx``, rejected rows of imports."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("ingest/<slug:source>/<slug:object_key>", views.ingest, name="exchange-ingest"),
    re_path(
        r"^export/(?P<object_key>[A-Za-z0-9_-]+)\.(?P<extension>csv|xlsx)$",
        views.export,
        name="exchange-export",
    ),
    path("imports/<int:job_id>", views.job_status, name="exchange-job"),
    path("imports/<slug:object_key>", views.upload, name="exchange-upload"),
    path("imports/<int:job_id>/rejected.csv", views.rejected_rows, name="exchange-rejected"),
]
