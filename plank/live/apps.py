from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "plank.live"
    label = "live"
    verbose_name = "Live layer"
