"""Who scans a library folder, and when: asking for a scan (a job for the engine process),
scanning now (commands, scheduled tasks), one running scan per folder at a time, cancel, and
scans whose process died (interrupted, and scanned again when the engine starts).
The scan itself: ``media.scan``."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from media import live
from media.models import LibraryFolder, Scan
from media.scan import Scanner
from plank.jobs import SCHEDULED_QUEUE
from plank.live.events import emit
from plank.scheduler import Run

log = logging.getLogger(__name__)

State = Scan.State
DEAD_SECONDS = 30.0  # a running scan with no heartbeat this long lost its process

_here: set[int] = set()  # scans running in this process
_here_lock = threading.Lock()


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


# --- asking for a scan ---------------------------------------------------------------------


def request_scan(folder: LibraryFolder, *, full: bool = False, trigger: str = "button") -> Scan:
    """Queue a scan of ``folder`` for the job worker (one waiting scan per folder at most)."""
    with transaction.atomic():
        queued = Scan.objects.filter(folder=folder, state=State.QUEUED).first()
        if queued is not None:
            if full and not queued.full:
                queued.full = True
                queued.save(update_fields=["full"])
            return queued
        scan = Scan.objects.create(folder=folder, full=full, trigger=trigger)
        transaction.on_commit(lambda: _enqueue(scan.pk))
    return scan


def _enqueue(scan_id: int) -> None:
    try:
        scan_job.enqueue(scan_id)
    except Exception:  # the next scheduled scan picks the folder up anyway
        log.exception("could not queue scan %s", scan_id)


@task(queue_name=SCHEDULED_QUEUE)
def scan_job(scan_id: int) -> str:
    """The background job of a requested scan."""
    return run_scan(scan_id).outcome


def cancel_scan(folder: LibraryFolder) -> str:
    """Cancel the folder's scan: a waiting one at once, a running one within a second."""
    if Scan.objects.filter(folder=folder, state=State.QUEUED).update(
        state=State.CANCELLED, finished_at=timezone.now(), outcome="Cancelled before it started."
    ):
        emit(live.FOLDERS)  # a conditional QuerySet.update: the declaration can't see it
    if Scan.objects.filter(folder=folder, state=State.RUNNING).update(cancel_requested=True):
        return "Stopping the scan…"
    return "No scan of this folder is running."


def scan_folder(
    folder: LibraryFolder, *, full: bool = False, trigger: str = "command", run: Run | None = None
) -> Scan:
    """Scan ``folder`` now, in this process (commands and scheduled tasks)."""
    with transaction.atomic():
        scan = Scan.objects.filter(folder=folder, state=State.QUEUED).first()
        if scan is None:
            scan = Scan.objects.create(folder=folder, full=full, trigger=trigger)
        elif full and not scan.full:
            scan.full = True
            scan.save(update_fields=["full"])
    return run_scan(scan.pk, run=run)


def scan_folders(folders: Iterable[LibraryFolder], run: Run, *, trigger: str = "schedule") -> str:
    """Scan each folder in turn (a scheduled task's work); the outcome of each, in words."""
    said = []
    for folder in folders:
        if run.cancelled:
            said.append("Stopped before the other folders.")
            break
        scan = scan_folder(folder, trigger=trigger, run=run)
        said.append(f"{folder.name}: {scan.outcome}")
    return " ".join(said) or "No library folders to scan."


# --- one scan ------------------------------------------------------------------------------


def run_scan(scan_id: int, *, run: Run | None = None) -> Scan:
    """Run the queued scan ``scan_id`` here (waiting for another scan of its folder to end)."""
    scan = Scan.objects.select_related("folder").get(pk=scan_id)
    if not _claim(scan, run):
        scan.refresh_from_db()
        return scan
    with _running(scan.pk):
        scanner = Scanner(scan, run)
        try:
            scanner.work()
        except Exception as exc:  # a bug must not leave the scan "running" for ever
            log.exception("scan %s of %s failed", scan.pk, scan.folder.path)
            scanner.finish(State.FAILED, f"The scan failed: {exc}", error=repr(exc))
    return scan


@contextmanager
def _running(scan_id: int) -> Iterator[None]:
    with _here_lock:
        _here.add(scan_id)
    try:
        yield
    finally:
        with _here_lock:
            _here.discard(scan_id)


def holder_alive(holder: str) -> bool | None:
    """Whether the process named ``host:pid`` lives (None: on another machine, can't tell)."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_orphan(scan: Scan) -> bool:
    """A running scan whose process is gone."""
    if scan.state != State.RUNNING:
        return False
    if scan.holder == process_id():
        with _here_lock:
            return scan.pk not in _here
    alive = holder_alive(scan.holder)
    if alive is not None:
        return not alive
    beat = scan.heartbeat_at or scan.started_at
    return beat is None or timezone.now() - beat > timedelta(seconds=DEAD_SECONDS)


def interrupt_orphans(folder: LibraryFolder | None = None) -> list[int]:
    """Mark running scans whose process died as interrupted; their folders' ids."""
    running = Scan.objects.filter(state=State.RUNNING)
    if folder is not None:
        running = running.filter(folder=folder)
    folders = []
    for scan in running:
        if is_orphan(scan) and Scan.objects.filter(pk=scan.pk, state=State.RUNNING).update(
            state=State.INTERRUPTED,
            finished_at=timezone.now(),
            outcome="Stopped when its process ended; the next scan goes on from there.",
        ):
            emit(live.FOLDERS)  # conditional QuerySet.update: the declaration can't see it
            folders.append(scan.folder_id)
    return folders


def resume_interrupted() -> int:
    """At the start of the engine process: scan again every folder whose last scan was cut off
    (by a kill or a shutdown). Returns how many scans were asked for."""
    interrupt_orphans()
    asked = 0
    for folder in LibraryFolder.objects.all():
        last = folder.scans.order_by("-requested_at", "-id").first()
        if last is not None and last.state == State.INTERRUPTED:
            request_scan(folder, full=last.full, trigger="resume")
            asked += 1
    return asked


def _claim(scan: Scan, run: Run | None) -> bool:
    """Make ``scan`` the folder's running scan; wait while another (alive) one runs."""
    while True:
        with transaction.atomic():
            # Lock the folder's row (PostgreSQL; SQLite's write transaction is exclusive).
            LibraryFolder.objects.select_for_update().filter(pk=scan.folder_id).first()
            interrupt_orphans(scan.folder)
            busy = Scan.objects.filter(folder_id=scan.folder_id, state=State.RUNNING).exists()
            if not busy:
                now = timezone.now()
                return bool(
                    Scan.objects.filter(pk=scan.pk, state=State.QUEUED).update(
                        state=State.RUNNING, started_at=now, heartbeat_at=now, holder=process_id()
                    )
                )
        if (run is not None and run.cancelled) or not Scan.objects.filter(
            pk=scan.pk, state=State.QUEUED
        ).exists():
            return False
        time.sleep(0.5)
