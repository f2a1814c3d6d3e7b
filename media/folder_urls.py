"""The library folders' pages, under /settings/library/."""

from django.urls import path

from media import folder_views

urlpatterns = [
    path("", folder_views.libraries_page, name="library-folders"),
    path("add", folder_views.add_folder, name="library-folder-add"),
    path("browse", folder_views.browse, name="library-folder-browse"),
    path("<int:pk>/", folder_views.folder_page, name="library-folder"),
    path("<int:pk>/scan", folder_views.scan, name="library-folder-scan"),
    path("<int:pk>/cancel", folder_views.cancel, name="library-folder-cancel"),
    path("<int:pk>/remove", folder_views.remove, name="library-folder-remove"),
]
