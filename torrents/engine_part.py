"""The engine part: the BitTorrent engine of this process, and the thread that turns its
events into rows and page updates.

The engine's hooks only put events on a queue (its alert thread must stay quick); the part's own
thread handles them, applies ``EngineCommand`` rows left by web-only processes, and marks
downloads that found no metadata in time. When the metadata arrives the files are vetted
(``torrents.vetting``) and the kept ones recorded as ``media.MediaFile`` rows (with seasons and
episodes for a show), or the torrent is refused with a reason the page shows. Progress is pushed
to pages at most once a second per download and written at most every
``PLANK_DOWNLOAD_SAVE_SECONDS``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from cachalot.api import cachalot_disabled
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from media import library
from media import live as media_live
from media.library_import import enqueue_unfiled, import_completed
from media.models import Episode, MediaFile, Season, Status, Title
from plank.faults import crash_point
from plank.live.events import push
from plank.system import Check
from torrents import downloads, races, signals, vetting
from torrents import engine as engine_module
from torrents.engine import DEFAULT_PRIORITY, DownloadStatus, Engine
from torrents.models import Download, EngineCommand
from torrents.preferences import engine_from_preferences, metadata_timeout_setting

log = logging.getLogger(__name__)

State = Download.State
NO_PEERS_MESSAGE = "No peers found for this magnet yet."
# States the engine part owns until the files are chosen; progress never overwrites them.
_BEFORE_FILES = {State.METADATA, State.VETTING, State.NO_PEERS}
_FETCHING = {State.DOWNLOADING, State.PAUSED}  # files chosen, not all of them here yet
# What a progress tick writes. Progress is pushed as data, not announced: these columns are
# written with QuerySet.update, which the live declarations do not see (on purpose).
_PROGRESS_FIELDS = (
    "download_rate",
    "upload_rate",
    "peers",
    "eta",
    "progress",
    "downloaded",
    "uploaded",
)


class Throttle:
    """At most one event per ``interval`` seconds per key."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[Any, float] = {}

    def ready(self, key: Any, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if now - self._last.get(key, float("-inf")) < self.interval:
            return False
        self._last[key] = now
        return True

    def forget(self, key: Any) -> None:
        self._last.pop(key, None)


class EnginePart:
    """The engine plus the thread that turns its events into database rows and page updates."""

    name = "engine"

    def __init__(
        self,
        engine: Engine,
        *,
        poll_interval: float = 1.0,
        metadata_timeout: float | None = None,
        save_interval: float | None = None,
        push_interval: float = 1.0,
        min_video_size: int | None = None,
    ) -> None:
        self.engine = engine
        self.poll_interval = poll_interval
        self._metadata_timeout = metadata_timeout
        self.save_interval = (
            save_interval if save_interval is not None else settings.PLANK_DOWNLOAD_SAVE_SECONDS
        )
        self.min_video_size = (
            min_video_size if min_video_size is not None else settings.PLANK_MIN_VIDEO_SIZE
        )
        self._pushes = Throttle(push_interval)
        self._saves = Throttle(self.save_interval)
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def metadata_timeout(self) -> float:
        """Seconds to look for peers: the test's override, else the settings page's value."""
        if self._metadata_timeout is not None:
            return self._metadata_timeout
        return metadata_timeout_setting()

    def start(self) -> None:
        engine = self.engine
        engine.on_metadata.append(lambda ih: self._events.put(("metadata", ih)))
        engine.on_finished.append(lambda ih: self._events.put(("finished", ih)))
        engine.on_progress.append(lambda ih, st: self._events.put(("progress", st)))
        engine.on_error.append(lambda ih, message: self._events.put(("error", (ih, message))))
        engine.start()
        engine_module.install(engine)
        with cachalot_disabled():
            self._guarded(self.reconcile)
            # A job that was running when the process died is not run again: queue those.
            self._guarded(enqueue_unfiled)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="plank-downloads", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(15)
            self._thread = None
        if engine_module.current() is self.engine:
            engine_module.install(None)
        self.engine.stop()

    # -- the loop

    def _run(self) -> None:
        # This thread reads rows other processes write (commands, pauses): never from the
        # ORM cache. cachalot's switch is per thread; writes still invalidate as usual.
        with cachalot_disabled():
            self._loop()

    def _loop(self) -> None:
        try:
            next_poll = 0.0
            next_reconcile = time.monotonic() + settings.PLANK_RECONCILE_SECONDS
            while not self._stopping.is_set():
                try:
                    kind, payload = self._events.get(
                        timeout=max(0.0, min(0.2, next_poll - time.monotonic()))
                    )
                except queue.Empty:
                    pass
                else:
                    self._guarded(self._handle, kind, payload)
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + self.poll_interval
                    self._guarded(self.poll)
                if time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + settings.PLANK_RECONCILE_SECONDS
                    self._guarded(self.reconcile)
        finally:
            connection.close()

    def _guarded(self, fn: Callable[..., object], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:
            if races.expected(exc):  # a delete won the race: nothing is wrong (torrents.races)
                log.debug("downloads: %s met a delete: %s", getattr(fn, "__name__", fn), exc)
            else:
                log.exception("downloads: %s failed", getattr(fn, "__name__", fn))
            close_old_connections()

    def _handle(self, kind: str, payload: Any) -> None:
        if kind == "metadata":
            self.on_metadata(payload)
        elif kind == "finished":
            self.on_finished(payload)
        elif kind == "progress":
            self.on_progress(payload)
        elif kind == "error":
            info_hash, message = payload
            downloads.fail(info_hash, f"The download failed: {message}")

    def poll(self) -> None:
        """Apply waiting commands, vet what has its metadata, and mark downloads that found no
        metadata in time."""
        self.apply_commands()
        cutoff = timezone.now() - timedelta(seconds=self.metadata_timeout)
        for download in Download.objects.filter(state__in=_BEFORE_FILES).select_related("title"):
            if download.info_hash in self.engine and self.engine.files(download.info_hash):
                self.on_metadata(download.info_hash)  # in case its event went missing; idempotent
                continue
            if download.state != State.METADATA or download.searching_since >= cutoff:
                continue
            title = download.title
            with transaction.atomic():
                download.state = State.NO_PEERS
                download.save(update_fields=["state"])
                title.set_status(title.status, NO_PEERS_MESSAGE)
                transaction.on_commit(
                    lambda t=title: downloads.tell_failed(t, NO_PEERS_MESSAGE, signals.NO_PEERS)
                )

    def apply_commands(self) -> None:
        """Carry out the commands other processes left, and those a crash left behind."""
        for command in EngineCommand.objects.all()[:100]:
            downloads.carry_out(self.engine, command)

    def reconcile(self) -> None:
        """Make the engine and the rows agree: when the engine starts, then every
        ``PLANK_RECONCILE_SECONDS``. Commands left behind are carried out, half-finished deletes
        finish, every title that should be downloading has its download and its torrent in the
        session, every torrent in the session belongs to a download, and what completed (or got
        its metadata) while nobody was listening is handled. Each step is safe to repeat."""
        engine = self.engine
        self.apply_commands()
        for title in library.finish_deletions():
            log.info("reconcile: finished deleting %s", title)
        stuck = Title.objects.filter(status__in=(Status.PENDING, Status.DOWNLOADING))
        for title in stuck.exclude(magnet="").filter(download__isnull=True):
            log.info("reconcile: %s had no download; starting it", title)
            downloads.start(title)
        in_session = set(engine.torrents())  # before the rows: a torrent added later has a row
        rows = {d.info_hash: d for d in Download.objects.select_related("title")}
        for info_hash, download in rows.items():
            if info_hash not in engine:
                wanted = download.state not in (State.COMPLETE, State.ERROR)
                if wanted and download.title.magnet:
                    if Download.objects.filter(pk=download.pk).exists():  # not deleted meanwhile
                        log.info("reconcile: adding %s to the session again", download)
                        downloads.add_to(engine, download)
                continue
            if download.state in _BEFORE_FILES and engine.files(info_hash) is not None:
                self._events.put(("metadata", info_hash))
                continue
            if download.state in _BEFORE_FILES:
                continue
            status = engine.status(info_hash)
            if download.state in _FETCHING and status.total_wanted == 0:
                self._choose_again(download)  # woke up from a resume file older than the choice
            elif status.finished:
                self._events.put(("finished", info_hash))
        for info_hash in in_session - rows.keys():
            log.info("reconcile: dropping %s, which no download asks for", info_hash)
            engine.remove(info_hash, delete_files=False)

    # -- events

    def on_metadata(self, info_hash: str) -> None:
        download = Download.objects.select_related("title").filter(info_hash=info_hash).first()
        files = self.engine.files(info_hash) if info_hash in self.engine else None
        if download is None or files is None:
            return
        title = download.title
        if download.state not in _BEFORE_FILES:
            # Already vetted (the torrent was added again after its resume file was lost).
            chosen = title.files.exclude(torrent_index=None).values_list("torrent_index", flat=True)
            self._select(info_hash, files, set(chosen))
            return
        crash_point("metadata.received")
        # Not announced: a passing state that no page shows apart from the download's own row.
        Download.objects.filter(pk=download.pk).update(state=State.VETTING)
        result = vetting.vet(files, title.kind, min_video_size=self.min_video_size)
        if result.refused:
            log.info("refusing %s: %s", info_hash, result.refused)
            downloads.fail(
                info_hash, result.refused, cause=signals.REFUSED, remove_from=self.engine
            )
            return
        self._select(info_hash, files, {k.index for k in result.keep})
        crash_point("vetting.chosen")
        by_index = {f.index: f for f in files}
        with transaction.atomic():
            for keep in result.keep:
                f = by_index[keep.index]
                episode = _episode(title, keep.season, keep.episode) if title.kind == "tv" else None
                MediaFile.objects.update_or_create(
                    title=title,
                    torrent_index=f.index,
                    defaults={
                        "role": keep.role,
                        "torrent_path": f.path,
                        "size": f.size,
                        "episode": episode,
                    },
                )
            download.state = State.DOWNLOADING
            download.metadata_at = timezone.now()
            download.total_size = sum(by_index[k.index].size for k in result.keep)
            download.save(update_fields=["state", "metadata_at", "total_size"])
            title.set_status(Status.DOWNLOADING)

    def _choose_again(self, download: Download) -> None:
        """Give the torrent back the files vetting chose (recorded on the title's files)."""
        files = self.engine.files(download.info_hash)
        chosen = download.title.files.exclude(torrent_index=None)
        keep = set(chosen.values_list("torrent_index", flat=True))
        if files and keep:
            log.info("reconcile: %s wanted no file; choosing its files again", download)
            self._select(download.info_hash, files, keep)

    def _select(self, info_hash: str, files: list[Any], keep: set[int]) -> None:
        self.engine.set_file_priorities(
            info_hash, {f.index: DEFAULT_PRIORITY if f.index in keep else 0 for f in files}
        )

    def on_finished(self, info_hash: str) -> None:
        download = Download.objects.select_related("title").filter(info_hash=info_hash).first()
        if download is None or download.state in _BEFORE_FILES or download.completed_at is not None:
            return
        status = self.engine.status(info_hash)
        if not status.finished:
            return
        title = download.title
        crash_point("completion.finished")
        with transaction.atomic():
            seeding = self.engine.seed_ratio is not None and not status.paused
            download.state = State.SEEDING if seeding else State.COMPLETE
            download.progress = 1.0
            download.downloaded = status.total_wanted_done
            download.download_rate = 0
            download.eta = 0
            download.completed_at = timezone.now()
            download.save()
            title.set_status(Status.COMPLETE)
        crash_point("completion.committed")
        push(media_live.download(title.pk), progress_data(download))
        for receiver, error in signals.download_completed.send_robust(sender=Download, title=title):
            if error is not None:
                log.error("completion receiver %r failed for %s", receiver, title, exc_info=error)

    def on_progress(self, status: DownloadStatus) -> None:
        info_hash = status.info_hash
        push_now = self._pushes.ready(info_hash)
        save_now = self._saves.ready(info_hash)
        if not (push_now or save_now):
            return
        download = Download.objects.filter(info_hash=info_hash).first()
        if download is None or download.state == State.ERROR:
            return
        state = _state_for(download, status)
        changed = state != download.state
        download.download_rate = status.download_rate
        download.upload_rate = status.upload_rate
        download.uploaded = status.all_time_upload
        download.peers = status.peers
        download.eta = status.eta
        if download.state not in _BEFORE_FILES:
            download.progress = status.progress
            download.downloaded = status.total_wanted_done
        if changed:  # a new state is a change pages show: saved, and so announced
            download.state = state
            download.progress_at = timezone.now()
            with transaction.atomic():  # the row and its announcement commit together
                download.save(update_fields=["state", "progress_at", *_PROGRESS_FIELDS])
        elif save_now:
            download.progress_at = timezone.now()
            fields = {name: getattr(download, name) for name in _PROGRESS_FIELDS}
            Download.objects.filter(pk=download.pk).update(
                progress_at=download.progress_at, **fields
            )
        if push_now:
            push(media_live.download(download.title_id), progress_data(download))


def on_download_completed(sender: type[Download], title: Title, **kwargs: Any) -> None:
    """``download_completed``: file the title into the library (a background job)."""
    import_completed(title)


def _state_for(download: Download, status: DownloadStatus) -> str:
    if download.state in _BEFORE_FILES or download.state == State.ERROR:
        return download.state
    if status.finished and download.completed_at is not None:
        return State.COMPLETE if status.paused else State.SEEDING
    if status.finished:  # the "finished" event is on its way and will file the title
        return download.state
    return State.PAUSED if status.paused else State.DOWNLOADING


def progress_data(download: Download) -> dict[str, Any]:
    """The ``set`` frame's data for a download's progress."""
    return {
        "fraction": round(download.progress, 4),
        "rate": download.download_rate,
        "upload_rate": download.upload_rate,
        "peers": download.peers,
        "eta": download.eta,
        "state": download.state,
        "state_label": download.get_state_display(),
        "downloaded": download.downloaded,
        "total": download.total_size,
    }


def _episode(show: Title, season: int | None, number: int | None) -> Episode | None:
    if season is None or number is None:
        return None
    season_row, _ = Season.objects.get_or_create(show=show, number=season)
    episode, _ = Episode.objects.get_or_create(season=season_row, number=number)
    return episode


def engine_part() -> EnginePart:
    """The process part registered for the "engine" role (see TorrentsConfig.ready)."""
    return EnginePart(engine_from_preferences())


def engine_check() -> Check:
    """The engine's line on /system/."""
    engine = engine_module.current()
    if engine is None:
        if "engine" in settings.PLANK_ROLES:
            return Check(name="BitTorrent engine", ok=False, summary="not running")
        return Check(name="BitTorrent engine", ok=True, summary="runs in the engine process")
    torrents = engine.torrents()
    switches = (engine.dht, engine.lsd, engine.upnp)
    details = [
        ("listening", f"{engine.listen} (port {engine.listen_port})"),
        ("torrents", str(len(torrents))),
        ("DHT / LSD / UPnP", " / ".join("on" if on else "off" for on in switches)),
        (
            "seeding",
            "until done" if engine.seed_ratio is None else f"to ratio {engine.seed_ratio:g}",
        ),
    ]
    return Check(
        name="BitTorrent engine",
        ok=engine.running,
        summary=f"{len(torrents)} torrent(s)",
        details=details,
    )
