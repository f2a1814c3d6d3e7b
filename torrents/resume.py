"""Fast-resume files: what the engine verified survives a restart, even a kill -9.

One ``<info hash>.fastresume`` file per torrent in the resume folder, written with the info dict
(a magnet never needs its metadata again) and after a disk-cache flush (no piece is claimed that
is not on disk), atomically: a crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import libtorrent as lt

from torrents.engine_types import key_of
from torrents.session import Session

log = logging.getLogger(__name__)

RESUME_FLAGS = lt.save_resume_flags_t.save_info_dict | lt.save_resume_flags_t.flush_disk_cache


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a crash leaves either the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class ResumeFiles:
    """The resume folder of one session: asks libtorrent for resume data, writes what comes
    back (``on_resume_data``, on the alert thread), loads the files at start."""

    def __init__(self, session: Session, directory: Path | str) -> None:
        self.session = session
        self.directory = Path(directory)
        self._saving: set[str] = set()
        self._saved = threading.Condition(session.lock)
        self._files = threading.Lock()  # a removal and a resume write never interleave

    def path(self, info_hash: str) -> Path:
        return self.directory / f"{info_hash}.fastresume"

    def save(self, key: str, handle: Any, *, only_if_needed: bool) -> None:
        """Ask for the torrent's resume data (written when the alert comes)."""
        if only_if_needed and not handle.need_save_resume_data():
            return
        with self.session.lock:
            if key not in self.session:
                return
            self._saving.add(key)
        handle.save_resume_data(RESUME_FLAGS)

    def save_all(self) -> None:
        """Ask for the resume data of every torrent that changed since its last save."""
        for key, handle in self.session.handles():
            self.save(key, handle, only_if_needed=True)

    def wait(self, timeout: float) -> None:
        """Wait until every save asked for was written (or failed), ``timeout`` at most."""
        until = time.monotonic() + timeout
        with self._saved:
            while self._saving and (left := until - time.monotonic()) > 0:
                self._saved.wait(left)
            if self._saving:
                log.warning("resume data not saved in time for %s", sorted(self._saving))

    def on_resume_data(self, alert: Any) -> None:
        """A ``save_resume_data_alert``: write its file."""
        key = key_of(alert.handle.info_hashes())
        try:
            with self._files:
                if key in self.session:  # a torrent removed meanwhile must not come back
                    params = alert.params
                    named = self.session.magnet_peers(key)
                    # libtorrent keeps only the peers it deems worth it; the ones the magnet
                    # named (x.pe) may be the only way to the swarm, so they always come along.
                    known = set(params.peers)
                    params.peers = list(params.peers) + [p for p in named if p not in known]
                    write_atomically(self.path(key), lt.write_resume_data_buf(params))
        except OSError:
            log.exception("writing resume data of %s", key)
        finally:
            self.done(key)

    def on_failed(self, alert: Any) -> None:
        """A ``save_resume_data_failed_alert``: nothing to write, the save is over."""
        key = key_of(alert.handle.info_hashes())
        log.warning("saving resume data of %s failed: %s", key, alert.message())
        self.done(key)

    def done(self, key: str) -> None:
        """The save of ``key`` is over (written, failed, or the torrent is gone)."""
        with self.session.lock:
            self._saving.discard(key)
            self._saved.notify_all()

    def delete(self, info_hash: str) -> None:
        """Remove the torrent's file (after the session forgot it)."""
        with self._files:
            self.path(info_hash).unlink(missing_ok=True)

    def load(self) -> None:
        """Add every torrent of the folder to the session; a file that cannot be read is moved
        aside (``.bad``)."""
        for path in sorted(self.directory.glob("*.fastresume")):
            try:
                atp = lt.read_resume_data(path.read_bytes())
            except Exception as exc:
                log.error("cannot load %s (%s); moved aside", path.name, exc)
                path.replace(path.with_name(path.name + ".bad"))
                continue
            key, _ = self.session.add(atp)
            log.info("resumed %s (%s)", key, atp.name or "no metadata yet")
