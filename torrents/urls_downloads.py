"""``/downloads/``: every download with live progress, and a title's download actions."""

from django.urls import path

from torrents import views

urlpatterns = [
    path("", views.downloads_page, name="downloads"),
    path("<int:pk>/<str:name>", views.action, name="download-action"),
]
