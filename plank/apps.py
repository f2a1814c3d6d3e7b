from django.apps import AppConfig


class PlankConfig(AppConfig):
    name = "plank"
    verbose_name = "Plank"
