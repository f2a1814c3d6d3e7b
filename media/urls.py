from django.urls import path

from media import player, request_views, search_page, streaming, views

urlpatterns = [
    path("", views.library_page, name="library"),
    path("search/", search_page.search_view, name="search"),
    path("media/add", views.add, name="add"),
    path("media/<int:pk>/", views.title_detail, name="title"),
    path("media/<int:pk>/delete", views.delete, name="delete"),
    path("media/<int:pk>/watch", player.watch, name="watch"),
    path("media/<int:pk>/position", player.save_position, name="position"),
    path("media/<int:pk>/stream", streaming.stream, name="stream"),
    path("media/<int:pk>/subtitles/<int:file_id>.vtt", player.subtitle, name="subtitle"),
    # requests (issue 11): what people asked for, waiting for an admin
    path("requests/", request_views.requests_page, name="requests"),
    path("requests/<int:pk>/withdraw", request_views.withdraw, name="request-withdraw"),
    path("requests/<int:pk>/<str:verdict>", request_views.decide, name="request-decide"),
]
