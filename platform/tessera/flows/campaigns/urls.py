"""Tracking and unsubscribe links (``/c/o/…``, ``/c/k/…``, ``/c/u/…``), kept short for SMS."""

from django.urls import path

from . import tracking, views

app_name = "campaigns"
urlpatterns = [
    path(f"{tracking.OPEN}/<str:token>", views.open_pixel, name="open"),
    path(f"{tracking.CLICK}/<str:token>", views.click, name="click"),
    path(f"{tracking.UNSUBSCRIBE}/<str:token>", views.unsubscribe, name="unsubscribe"),
]
