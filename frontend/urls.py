"""The operator UI under /app/."""

from django.urls import path

from . import views

app_name = "frontend"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout, name="logout"),
    path("language/", views.set_language, name="language"),
    path("s/<slug:key>/", views.screen, name="screen"),
    path("s/<slug:key>/b/<int:index>/", views.block, name="block"),
    path("s/<slug:key>/b/<int:index>/export.csv", views.export, name="export"),
    path("s/<slug:key>/b/<int:index>/submit", views.submit, name="submit"),
    path("s/<slug:key>/b/<int:index>/move", views.kanban_move, name="move"),
    path("r/<slug:object_key>/<int:pk>/", views.record_page, name="record"),
    path("r/<slug:object_key>/<int:pk>/transition", views.take_transition, name="transition"),
]
