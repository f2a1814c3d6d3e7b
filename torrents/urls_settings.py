"""``/settings/indexers/``: the indexers and how releases are chosen."""

from django.urls import path

from torrents import views_settings

urlpatterns = [
    path("", views_settings.settings_page, name="indexer-settings"),
    path("add", views_settings.add, name="indexer-add"),
    path("releases", views_settings.releases, name="release-preferences"),
    path("<int:pk>/", views_settings.edit, name="indexer-edit"),
    path("<int:pk>/delete", views_settings.remove, name="indexer-delete"),
    path("<int:pk>/test", views_settings.test, name="indexer-test"),
]
