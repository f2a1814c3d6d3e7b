from django.apps import AppConfig


class PlankConfig(AppConfig):
    name = "plank"
    verbose_name = "Plank"

    def ready(self) -> None:
        from plank import parts

        def job_worker():
            from plank.jobs import JobWorker

            return JobWorker()

        parts.register("jobs", job_worker, roles=("engine",))
