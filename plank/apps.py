from __future__ import annotations

from datetime import timedelta

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class PlankConfig(AppConfig):
    name = "plank"
    verbose_name = "Plank"

    def ready(self) -> None:
        # plank.jobs imports django-tasks' worker, which needs the apps loaded: hence here.
        from plank import parts, scheduler, sections, slow, system, task_board, upkeep
        from plank.jobs import JobWorker

        parts.register("jobs", JobWorker, roles=("engine",))
        parts.register("scheduler", scheduler.SchedulerPart, roles=("engine",))
        system.register(task_board.health)
        connection_created.connect(slow.on_connection_created, dispatch_uid="plank-slow-queries")
        scheduler.register(
            "outbox-prune",
            upkeep.prune_outbox,
            every=timedelta(minutes=1),
            label="Prune old live announcements",
        )
        scheduler.register(
            "database-upkeep",
            upkeep.database_upkeep,
            every=timedelta(days=1),
            label="Database upkeep",
        )
        sections.register("People", "people", order=90)
