"""``/torrents/``: the indexer search, Get, and the releases of a title. The downloads list is at
``/downloads/`` (``torrents.urls_downloads``); the old ``/torrents/<id>/<action>`` still works."""

from django.urls import path

from torrents import views, views_releases, views_search

urlpatterns = [
    path("", views_search.search_page, name="torrents"),
    path("get", views_search.get, name="torrent-get"),
    path("find/", views_releases.find_page, name="find-releases"),
    path("find/get", views_releases.find_get, name="find-get"),
    path("title/<int:pk>/", views_releases.title_releases, name="title-releases"),
    path("title/<int:pk>/find", views_releases.title_find, name="title-find"),
    path("title/<int:pk>/get", views_releases.title_get, name="title-get"),
    path(
        "title/<int:pk>/unblock/<int:block_pk>",
        views_releases.title_unblock,
        name="title-unblock",
    ),
    path("badge/<str:kind>/<int:tmdb_id>", views_releases.badge, name="release-badge"),
    # Before /downloads/ existed, a download's actions lived here: keep them answering.
    path("<int:pk>/<str:name>", views.moved_action, name="download-action-moved"),
]
