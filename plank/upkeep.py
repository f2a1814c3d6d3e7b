"""Database upkeep and outbox pruning: the project's own scheduled tasks (plank.scheduler).

- ``database-upkeep`` (daily): SQLite gets ``PRAGMA optimize``, a ``VACUUM`` when a good part of
  the file is free pages (worth the minutes of a locked database only then), and a WAL checkpoint;
  PostgreSQL gets ``ANALYZE`` (its autovacuum does the vacuuming). Finished background jobs older
  than a week are removed.
- ``outbox-prune`` (every minute): announcements older than the replay window go
  (``plank.live.outbox.prune``), once for the deployment instead of once per process.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from plank.live import outbox
from plank.scheduler import Run

VACUUM_FREE_FRACTION = 0.2  # free pages worth a VACUUM: a fifth of the file...
VACUUM_MIN_FREE_BYTES = 16 * 1024 * 1024  # ...and at least this much
JOBS_KEPT = timedelta(days=7)
FINISHED_JOB_STATES = ("SUCCESSFUL", "FAILED")


def prune_outbox(run: Run) -> str:
    deleted = outbox.prune()
    if not deleted:
        return "Nothing to remove."
    return f"Removed {deleted:,} old announcement{'s' if deleted != 1 else ''}."


def database_upkeep(run: Run) -> str:
    connection = connections[DEFAULT_DB_ALIAS]
    said = []
    run.progress(0, 3, "Looking after the database")
    if connection.vendor == "sqlite":
        said += _sqlite(run)
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        said.append("Refreshed PostgreSQL's planner statistics (ANALYZE).")
    if run.cancelled:
        return " ".join(said) + " Stopped before removing old jobs."
    run.progress(2, 3, "Removing finished background jobs")
    cutoff = timezone.now() - JOBS_KEPT
    removed, _ = DBTaskResult.objects.filter(
        status__in=FINISHED_JOB_STATES, finished_at__lt=cutoff
    ).delete()
    if removed:
        said.append(f"Removed {removed:,} finished background jobs older than a week.")
    run.progress(3, 3, "Done")
    return " ".join(said) or "Nothing to do."


def sqlite_free_space() -> tuple[int, int]:
    """(free bytes, file bytes) of the SQLite database, from its page counts."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("PRAGMA page_size")
        page = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute("PRAGMA freelist_count")
        free = cursor.fetchone()[0]
    return free * page, pages * page


def vacuum_worth_it(free: int, total: int) -> bool:
    return total > 0 and free >= VACUUM_MIN_FREE_BYTES and free / total >= VACUUM_FREE_FRACTION


def _sqlite(run: Run) -> list[str]:
    said = []
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("PRAGMA optimize")
    said.append("Optimised SQLite's query planner (PRAGMA optimize).")
    free, total = sqlite_free_space()
    if run.cancelled:
        return said
    run.progress(1, 3, "Checking free space in the database file")
    if vacuum_worth_it(free, total):
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("VACUUM")
        after, _ = sqlite_free_space()
        said.append(f"Reclaimed {_mb(free - after)} with VACUUM.")
    else:
        said.append(f"No VACUUM needed ({_mb(free)} free of {_mb(total)}).")
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return said


def _mb(n: int) -> str:
    return f"{max(n, 0) / 1024 / 1024:.1f} MB"
