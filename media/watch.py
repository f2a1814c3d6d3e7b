"""Watching library folders for changes (``watchfiles``, inotify underneath), and saying so loudly
when a folder can't be watched.

The ``watch`` process part (engine role) keeps one watcher thread per library folder. A change to
a video or subtitle (added, renamed, deleted) asks for an incremental scan of that folder, which
sorts out what happened within seconds. When the watch can't be set up — the system's limit of
inotify watches is reached, or the folder is on a network share whose changes inotify never hears
of — the folder says so on its page and on /system/, with the fix, and is scanned on a timetable
instead (the ``library-poll`` task) rather than silently never updated.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import watchfiles
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from media.models import LibraryFolder
from media.scan_files import role_of
from media.scan_queue import request_scan, resume_interrupted

log = logging.getLogger(__name__)

RELOAD_SECONDS = 5.0  # how often the part looks for added or removed folders
RETRY_SECONDS = 600.0  # a folder that could not be watched is tried again after this
WATCHES_FILE = Path("/proc/sys/fs/inotify/max_user_watches")
MOUNTINFO = Path("/proc/self/mountinfo")
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "lustre",
        "fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.davfs", "davfs", "fuse.glusterfs",
    }
)  # fmt: skip
FALLBACK = "Plank scans it on a timetable instead (Tasks → “Scan folders that can't be watched”)."

WatchFn = Callable[..., Iterator[set[tuple[Any, str]]]]


# --- why a folder can't be watched, in words -----------------------------------------------


def filesystem_of(path: str, mountinfo: str) -> str:
    """The file system type of the mount ``path`` lies on (``/proc/self/mountinfo`` format:
    ``36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw``)."""
    best, kind = "", ""
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right.split():
            continue
        point = fields[4].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, right.split()[0]
    return kind


def network_share(path: str) -> str:
    """The network file system ``path`` is on ("cifs", "nfs4"), or "" for a local one."""
    try:
        kind = filesystem_of(path, MOUNTINFO.read_text())
    except OSError:
        return ""
    return kind if kind in NETWORK_FILESYSTEMS else ""


def watch_limit() -> int | None:
    try:
        return int(WATCHES_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def problem_words(folder: LibraryFolder, exc: BaseException) -> str:
    """Why ``folder`` can't be watched, and what to do about it."""
    text = str(exc)
    if "watch limit" in text.lower() or "no space left" in text.lower() or "ENOSPC" in text:
        limit = watch_limit()
        now = f" (now {limit:,})" if limit is not None else ""
        return (
            f"Plank can't watch {folder.path} for changes: the system's limit on inotify watches"
            f" is reached{now}, and every sub-folder needs one. Raise it on the machine Plank"
            " runs on: `sudo sysctl fs.inotify.max_user_watches=524288`, and add"
            " `fs.inotify.max_user_watches=524288` to /etc/sysctl.conf to keep it after a"
            " restart (in a container, on the host). " + FALLBACK
        )
    return f"Plank can't watch {folder.path} for changes ({text}). " + FALLBACK


def share_words(folder: LibraryFolder, kind: str) -> str:
    return (
        f"{folder.path} is on a network share ({kind}): changes made on other machines are not"
        " reported to Plank, so it can't be watched. " + FALLBACK
    )


def set_state(folder: LibraryFolder, state: str, detail: str = "") -> None:
    """Record the folder's watch (announced by its declaration, only when it changes)."""
    fresh = LibraryFolder.objects.filter(pk=folder.pk).first()
    if fresh is None:
        return
    changed = (fresh.watch_state, fresh.watch_detail) != (state, detail)
    fresh.watch_state, fresh.watch_detail = state, detail
    fresh.watch_checked_at = timezone.now()
    fields = ["watch_checked_at"] + (["watch_state", "watch_detail"] if changed else [])
    if changed:
        fresh.save(update_fields=fields)
        if state == LibraryFolder.Watch.FAILED:
            log.warning("%s", detail)
    else:
        LibraryFolder.objects.filter(pk=folder.pk).update(watch_checked_at=fresh.watch_checked_at)


def relevant(changes: Iterable[tuple[Any, str]], root: str) -> bool:
    """Whether a batch of changes may matter to the library: a video, a subtitle, or a folder
    (a renamed or deleted folder takes its files with it); hidden names never."""
    for _change, path in changes:
        name = Path(path).name
        if name.startswith(".") or any(part.startswith(".") for part in Path(path).parts):
            continue
        if role_of(name) is not None or not Path(name).suffix:
            return True
    return False


# --- the watchers ----------------------------------------------------------------------------


class FolderWatcher:
    """One folder's watch, in a thread of its own."""

    def __init__(self, folder: LibraryFolder, watch_fn: WatchFn) -> None:
        self.folder = folder
        self.watch_fn = watch_fn
        self.stop_event = threading.Event()
        self.started = time.monotonic()
        self.thread = threading.Thread(
            target=self._run, name=f"plank-watch-{folder.pk}", daemon=True
        )

    def start(self) -> None:
        self.started = time.monotonic()
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def _run(self) -> None:
        folder = self.folder
        try:
            share = network_share(folder.path)
            if share:
                set_state(folder, LibraryFolder.Watch.FAILED, share_words(folder, share))
                return
            watching = False
            for changes in self.watch_fn(
                folder.path,
                stop_event=self.stop_event,
                debounce=int(settings.PLANK_WATCH_DEBOUNCE_MS),
                rust_timeout=1000,
                yield_on_timeout=True,
                raise_interrupt=False,
                ignore_permission_denied=True,
            ):
                close_old_connections()
                if not watching:  # the first yield: the watch is in place
                    watching = True
                    set_state(folder, LibraryFolder.Watch.WATCHING)
                if changes and relevant(changes, folder.path):
                    log.info("changes in %s: scanning it", folder.path)
                    request_scan(folder, trigger="watch")
        except Exception as exc:  # the limit, a vanished folder: said on the page, not raised
            if not self.stop_event.is_set():
                set_state(folder, LibraryFolder.Watch.FAILED, problem_words(folder, exc))
        finally:
            for conn in connections.all(initialized_only=True):
                conn.close()


class WatchPart:
    """The ``watch`` part: a watcher per library folder, kept in step with the folders."""

    name = "watch"

    def __init__(self, watch_fn: WatchFn | None = None, *, resume: bool = True) -> None:
        self.watch_fn = watch_fn or watchfiles.watch
        self.resume = resume
        self.watchers: dict[int, tuple[str, FolderWatcher]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="plank-watch", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        if self.resume:
            try:
                asked = resume_interrupted()
                if asked:
                    log.info("scanning %d folder(s) again whose scan was cut off", asked)
            except Exception:
                log.warning("could not look for interrupted scans", exc_info=True)
        while not self._stop.is_set():
            try:
                close_old_connections()
                self.sync()
            except Exception:  # the database may be away for a moment
                log.warning("the folder watch could not look at the folders", exc_info=True)
            self._stop.wait(RELOAD_SECONDS)
        for conn in connections.all(initialized_only=True):
            conn.close()

    def sync(self) -> None:
        """Start watchers for new folders, stop those of removed (or moved) ones, and try a
        failed one again now and then (the limit may have been raised)."""
        folders = {f.pk: f for f in LibraryFolder.objects.all()}
        for pk in list(self.watchers):
            path, watcher = self.watchers[pk]
            folder = folders.get(pk)
            if folder is None or folder.path != path:
                watcher.stop()
                del self.watchers[pk]
            elif (
                not watcher.thread.is_alive() and time.monotonic() - watcher.started > RETRY_SECONDS
            ):
                del self.watchers[pk]
        for pk, folder in folders.items():
            if pk not in self.watchers:
                watcher = FolderWatcher(folder, self.watch_fn)
                self.watchers[pk] = (folder.path, watcher)
                watcher.start()

    def stop(self) -> None:
        self._stop.set()
        for _path, watcher in self.watchers.values():
            watcher.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for _path, watcher in self.watchers.values():
            watcher.thread.join(timeout=5)
