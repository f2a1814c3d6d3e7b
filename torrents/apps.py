from django.apps import AppConfig


class TorrentsConfig(AppConfig):
    name = "torrents"
