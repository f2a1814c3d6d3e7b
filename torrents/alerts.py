"""The engine's one alert thread: libtorrent's alerts turned into calls on the engine's parts and
hooks, plus the timed work (status updates, resume saves, redials) and the seeding policy.

Hooks run on this thread: keep them short (``torrents.engine_part`` only puts them on a queue).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import libtorrent as lt

from torrents.engine_types import (
    STATE_NAMES,
    DownloadStatus,
    Hooks,
    handle_gone,
    key_of,
    status_of,
)
from torrents.pieces import StreamingReads
from torrents.resume import ResumeFiles
from torrents.session import Session
from torrents.stalls import CHECK_SECONDS, StallWatch

log = logging.getLogger(__name__)

# How often the peers a magnet named are re-added to a torrent that has no peer.
REDIAL_SECONDS = 30.0


class AlertLoop:
    """Waits for alerts (``wait_for_alert`` + ``pop_alerts``) and dispatches them.

    ``seed_ratio``: None stops a torrent when its download completes; a number keeps it seeding
    until it uploaded that many times what it downloaded. It may be changed at any time.
    """

    def __init__(
        self,
        session: Session,
        resume: ResumeFiles,
        streaming: StreamingReads,
        hooks: Hooks,
        *,
        seed_ratio: float | None,
        resume_interval: float,
        progress_interval: float,
        redial_interval: float,
    ) -> None:
        self.session = session
        self.resume = resume
        self.streaming = streaming
        self.hooks = hooks
        self.seed_ratio = seed_ratio
        self.resume_interval = resume_interval
        self.progress_interval = progress_interval
        self.redial_interval = redial_interval
        self.stalls = StallWatch(session)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="plank-engine-alerts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        next_progress = time.monotonic()
        next_resume = time.monotonic() + self.resume_interval
        next_redial = time.monotonic() + self.redial_interval
        next_stall_check = time.monotonic() + CHECK_SECONDS
        while not self._stopping.is_set():
            session = self.session.lt_session
            if session is None:
                break
            try:
                session.wait_for_alert(200)
                for alert in session.pop_alerts():
                    try:
                        self._dispatch(alert)
                    except RuntimeError as exc:
                        if not handle_gone(exc):
                            raise
                        # the torrent was removed meanwhile (torrents.races): nothing to do
                        log.debug("engine: an alert for a removed torrent: %s", exc)
                now = time.monotonic()
                if now >= next_progress:
                    next_progress = now + self.progress_interval
                    session.post_torrent_updates()
                if now >= next_resume:
                    next_resume = now + self.resume_interval
                    self.resume.save_all()
                if now >= next_redial:
                    next_redial = now + self.redial_interval
                    self.session.redial_lonely()
                if now >= next_stall_check:
                    next_stall_check = now + CHECK_SECONDS
                    for info_hash in self.stalls.check(now):
                        self.streaming.rearrange(info_hash)
            except Exception as exc:  # the alert loop must survive anything one alert does
                if handle_gone(exc):
                    log.debug("engine: a removed torrent's handle: %s", exc)
                else:
                    log.exception("engine alert loop")

    def _dispatch(self, alert: Any) -> None:
        hooks = self.hooks
        if isinstance(alert, lt.read_piece_alert):
            self.streaming.on_read_piece(alert)
        elif isinstance(alert, lt.piece_finished_alert):
            key = key_of(alert.handle.info_hashes())
            self.streaming.piece_done(key, int(alert.piece_index))
            hooks.fire(hooks.on_piece, key, int(alert.piece_index))
        elif isinstance(alert, lt.state_update_alert):
            for st in alert.status:
                status = status_of(st)
                self._apply_seed_ratio(st.handle, status)
                hooks.fire(hooks.on_progress, status.info_hash, status)
        elif isinstance(alert, lt.save_resume_data_alert):
            self.resume.on_resume_data(alert)
        elif isinstance(alert, lt.save_resume_data_failed_alert):
            self.resume.on_failed(alert)
        elif isinstance(alert, lt.metadata_received_alert):
            key = key_of(alert.handle.info_hashes())
            self.resume.save(key, alert.handle, only_if_needed=False)
            hooks.fire(hooks.on_metadata, key)
        elif isinstance(alert, lt.torrent_finished_alert):
            self._on_torrent_finished(alert.handle)
        elif isinstance(alert, lt.state_changed_alert):
            key = key_of(alert.handle.info_hashes())
            hooks.fire(hooks.on_state, key, STATE_NAMES.get(alert.state, ""))
        elif isinstance(alert, lt.torrent_error_alert | lt.file_error_alert):
            key = key_of(alert.handle.info_hashes())
            log.error("torrent %s: %s", key, alert.message())
            hooks.fire(hooks.on_error, key, alert.message())
        elif isinstance(alert, lt.listen_failed_alert):
            log.error("engine: %s", alert.message())
        elif isinstance(alert, lt.fastresume_rejected_alert):
            log.warning("engine: %s", alert.message())

    def _on_torrent_finished(self, handle: Any) -> None:
        status = status_of(handle.status())
        if not status.finished:  # nothing wanted yet (held for vetting): not a completion
            return
        if self.seed_ratio is None and not status.paused:
            handle.pause()
        self.resume.save(status.info_hash, handle, only_if_needed=False)
        self.hooks.fire(self.hooks.on_finished, status.info_hash)

    def _apply_seed_ratio(self, handle: Any, status: DownloadStatus) -> None:
        if self.seed_ratio is None or status.paused or not status.finished:
            return
        if status.all_time_upload >= self.seed_ratio * status.total_wanted:
            log.info("%s reached seed ratio %.2f; stopping", status.info_hash, self.seed_ratio)
            handle.pause()
            self.resume.save(status.info_hash, handle, only_if_needed=False)
