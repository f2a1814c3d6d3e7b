"""The job worker as a process part: runs django-tasks' database worker in a thread.

It belongs to the "engine" role, so `serve` (embedded) and `manage.py engine` (scaled out)
run queued jobs (TMDB matching, remuxing) and `serve --web-only` processes never do.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from django.db import connections
from django_tasks_db.management.commands.db_worker import Worker

log = logging.getLogger(__name__)


SCHEDULED_QUEUE = "scheduled"
"""The queue of the scheduler's runs (plank.scheduler): its own workers take them, so a long
scheduled run never holds up the jobs above; the general worker leaves them alone."""


class JobWorker:
    name = "jobs"

    def __init__(
        self,
        interval: float = 1.0,
        *,
        queues: tuple[str, ...] = ("*",),
        excluded: tuple[str, ...] = (SCHEDULED_QUEUE,),
        thread_name: str = "plank-jobs",
    ) -> None:
        self.thread_name = thread_name
        self.worker = Worker(
            queue_names=list(queues),
            interval=interval,
            batch=False,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=f"{socket.gethostname()}-{os.getpid()}-{thread_name}"[:64],
            excluded_queue_names=list(excluded),
        )
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.worker.run()
        except Exception:  # the worker must never take the process down
            log.exception("the job worker stopped")
        finally:
            for conn in connections.all(initialized_only=True):
                conn.close()  # this thread's own connections (a test database can then go)

    def stop(self) -> None:
        self.worker.running = False
        if self.thread is not None:
            self.thread.join(timeout=30)

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()
