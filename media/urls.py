from django.urls import path

from media import views

urlpatterns = [
    path("", views.library, name="library"),
    path("media/add", views.add, name="add"),
    path("media/<int:pk>/", views.title_detail, name="title"),
    path("media/<int:pk>/delete", views.delete, name="delete"),
]
