from __future__ import annotations

from django.apps import AppConfig


class PlankConfig(AppConfig):
    name = "plank"
    verbose_name = "Plank"

    def ready(self) -> None:
        # plank.jobs imports django-tasks' worker, which needs the apps loaded: hence here.
        from plank import parts
        from plank.jobs import JobWorker

        parts.register("jobs", JobWorker, roles=("engine",))
