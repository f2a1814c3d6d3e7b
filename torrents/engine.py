"""The BitTorrent engine: one libtorrent session, its alerts, fast-resume and streaming reads.

``Engine`` is the facade the app calls (``torrents.engine_part``, ``torrents.downloads``) and the
library's ``media.downloading.PieceReader``; its parts do the work: ``torrents.session`` (the
session and its torrents), ``torrents.resume`` (fast-resume files), ``torrents.pieces`` (streaming
reads and piece deadlines), ``torrents.alerts`` (the alert thread). It knows torrents by info hash
and nothing of Django: ``torrents.preferences.engine_from_preferences()`` builds it from the
settings. The design and its reasons: docs/engine.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from torrents.alerts import REDIAL_SECONDS, AlertLoop
from torrents.engine_types import (
    DEFAULT_PRIORITY,
    STREAM_PRIORITY,
    DownloadStatus,
    EngineError,
    Hooks,
    StreamTimeout,
    TorrentFile,
    key_of,
    magnet_info_hash,
)
from torrents.pieces import StreamingReads
from torrents.resume import ResumeFiles
from torrents.session import Session

log = logging.getLogger(__name__)

# The engine's vocabulary (torrents.engine_types), named here too: callers know only this module.

__all__ = [
    "DEFAULT_PRIORITY",
    "STREAM_PRIORITY",
    "DownloadStatus",
    "Engine",
    "EngineError",
    "StreamTimeout",
    "TorrentFile",
    "current",
    "install",
    "key_of",
    "magnet_info_hash",
]


class Engine:
    """One libtorrent session and everything Plank asks of it. A ``plank.parts`` Part.

    Every method may be called from any thread. Hooks (lists of callables, called on the alert
    thread; keep them short): ``on_metadata(ih)``, ``on_finished(ih)``,
    ``on_progress(ih, DownloadStatus)``, ``on_error(ih, message)``, ``on_state(ih, state)``,
    ``on_piece(ih, piece)``.
    """

    name = "engine"

    def __init__(
        self,
        *,
        listen: str = "0.0.0.0:6881",
        resume_dir: Path | str,
        dht: bool = True,
        lsd: bool = True,
        upnp: bool = True,
        seed_ratio: float | None = None,
        resume_interval: float = 30.0,
        progress_interval: float = 1.0,
        redial_interval: float = REDIAL_SECONDS,
        cache_bytes: int = 32 * 1024 * 1024,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self._session = Session(listen=listen, dht=dht, lsd=lsd, upnp=upnp, settings=settings)
        self._resume = ResumeFiles(self._session, resume_dir)
        self._streaming = StreamingReads(self._session, cache_bytes)
        hooks = Hooks()
        self._alerts = AlertLoop(
            self._session,
            self._resume,
            self._streaming,
            hooks,
            seed_ratio=seed_ratio,
            resume_interval=resume_interval,
            progress_interval=progress_interval,
            redial_interval=redial_interval,
        )
        self.on_metadata = hooks.on_metadata
        self.on_finished = hooks.on_finished
        self.on_progress = hooks.on_progress
        self.on_error = hooks.on_error
        self.on_state = hooks.on_state
        self.on_piece = hooks.on_piece

    # ------------------------------------------------------------------ configuration

    @property
    def listen(self) -> str:
        return self._session.listen

    @property
    def dht(self) -> bool:
        return self._session.dht

    @property
    def lsd(self) -> bool:
        return self._session.lsd

    @property
    def upnp(self) -> bool:
        return self._session.upnp

    @property
    def resume_dir(self) -> Path:
        return self._resume.directory

    @property
    def seed_ratio(self) -> float | None:
        """None: a torrent stops when it completes; else it seeds to this upload ratio."""
        return self._alerts.seed_ratio

    @seed_ratio.setter
    def seed_ratio(self, ratio: float | None) -> None:
        self._alerts.seed_ratio = ratio

    def settings_pack(self) -> dict[str, Any]:
        return self._session.settings_pack()

    def apply_settings(self, **switches: bool) -> None:
        """Switch discovery at run time: ``apply_settings(dht=False, lsd=True, upnp=False)``."""
        self._session.apply_settings(**switches)

    # ------------------------------------------------------------------ life cycle

    @property
    def running(self) -> bool:
        return self._session.running

    @property
    def listen_port(self) -> int:
        return self._session.listen_port

    def start(self) -> None:
        if self._session.running:
            return
        self._resume.directory.mkdir(parents=True, exist_ok=True)
        self._session.open()
        self._resume.load()
        self._alerts.start()
        log.info("engine listening on %s (port %s)", self.listen, self.listen_port)

    def stop(self, timeout: float = 10.0) -> None:
        """Save resume data for every torrent that needs it, then close the session."""
        session = self._session.lt_session
        if session is None:
            return
        session.pause()
        self._resume.save_all()
        self._resume.wait(timeout)
        self._alerts.stop(timeout)
        with self._session.lock:
            self._streaming.close()
            self._session.close()
        del session  # destroying the session closes sockets and files

    # ------------------------------------------------------------------ torrents

    def add_magnet(
        self,
        uri: str,
        save_path: Path | str,
        *,
        paused: bool = False,
        hold_files: bool = False,
    ) -> str:
        """Add a magnet link; returns its info hash. Peers in ``x.pe`` are dialled directly.

        The torrent is not auto-managed: it is always active (a queued torrent could not
        stream). ``hold_files``: every file starts at priority 0 when the metadata arrives, so
        nothing is downloaded until ``set_file_priorities`` picks files (the downloads layer vets
        first). Adding a torrent the engine already has returns its info hash and changes nothing.
        """
        key, handle = self._session.add_magnet(uri, save_path, paused=paused, hold_files=hold_files)
        if handle is not None:
            # Persist at once: a restart before the first timed save must not forget the magnet.
            self._resume.save(key, handle, only_if_needed=False)
        return key

    def add_torrent_file(
        self, data: bytes, save_path: Path | str, *, hold_files: bool = False
    ) -> str:
        """Add a torrent from a ``.torrent`` file's bytes; returns its info hash. Its metadata is
        there at once (no ``on_metadata`` hook: the downloads layer finds the files when it next
        polls). ``hold_files`` as for ``add_magnet``; adding it twice changes nothing."""
        key, handle = self._session.add_torrent_file(data, save_path, hold_files=hold_files)
        if handle is not None:
            self._resume.save(key, handle, only_if_needed=False)
        return key

    def torrents(self) -> list[str]:
        return self._session.torrents()

    def __contains__(self, info_hash: object) -> bool:
        return info_hash in self._session

    def files(self, info_hash: str) -> list[TorrentFile] | None:
        """The torrent's files (pad files left out), or None until the metadata is here."""
        return self._session.files(info_hash)

    def set_file_priorities(self, info_hash: str, priorities: dict[int, int]) -> None:
        """Set the priority (0 = skip .. 7 = top) of the files named; others keep theirs."""
        self._session.set_file_priorities(info_hash, priorities)
        # The files chosen are part of what a restart must bring back: a resume file saved
        # before them would wake the torrent up wanting nothing.
        self._resume.save(info_hash, self._session.handle(info_hash), only_if_needed=False)
        # Before the first request goes out: whether a peer drops cancels (no deadlines then).
        self._alerts.stalls.classify(info_hash)

    def file_priorities(self, info_hash: str) -> list[int]:
        return self._session.file_priorities(info_hash)

    def status(self, info_hash: str) -> DownloadStatus:
        return self._session.status(info_hash)

    def pause(self, info_hash: str) -> None:
        self._resume.save(info_hash, self._session.pause(info_hash), only_if_needed=False)

    def resume(self, info_hash: str) -> None:
        self._resume.save(info_hash, self._session.resume(info_hash), only_if_needed=False)

    def reannounce(self, info_hash: str) -> None:
        """Look for peers again: trackers, DHT, and the peers the magnet named."""
        self._session.reannounce(info_hash)

    def remove(self, info_hash: str, delete_files: bool = False) -> None:
        """Forget a torrent (and its fast-resume file); with ``delete_files``, its data too."""
        self._session.require()
        with self._session.lock:
            handle = self._session.forget(info_hash)
            self._streaming.forget(info_hash)
            self._resume.done(info_hash)
        if handle is not None:
            self._session.remove_handle(handle, delete_files=delete_files)
        self._resume.delete(info_hash)

    # ------------------------------------------------------------------ streaming (PieceReader)

    def prioritise_for_streaming(
        self,
        info_hash: str,
        file_index: int,
        *,
        head_bytes: int = 2 * 1024 * 1024,
        tail_bytes: int = 1024 * 1024,
    ) -> None:
        """Get a file ready to play: its first pieces, then its last ones (players look for the
        index at both ends), then the rest in order (sequential download).

        Head and tail are fetched one after the other, not side by side, and only while no read
        waits: a read's pieces always come first."""
        self._streaming.prioritise_for_streaming(
            info_hash, file_index, head_bytes=head_bytes, tail_bytes=tail_bytes
        )

    def piece_span(self, info_hash: str, file_index: int, offset: int) -> tuple[int, int]:
        """The piece holding byte ``offset`` of a file, as file offsets ``(start, end)``; the
        piece may begin before the file or end after it. A streaming read costs whole pieces, so
        a reader in a hurry reads up to ``end`` and no further."""
        return self._streaming.piece_span(info_hash, file_index, offset)

    def have_range(self, info_hash: str, file_index: int, start: int, end: int) -> bool:
        """Whether bytes ``[start, end)`` of the file are downloaded and verified."""
        return self._streaming.have_range(info_hash, file_index, start, end)

    async def read(
        self,
        info_hash: str,
        file_index: int,
        offset: int,
        length: int,
        timeout: float = 30.0,
        *,
        urgent: bool = True,
    ) -> bytes:
        """Bytes ``[offset, offset+length)`` of a file, fetched first if need be.

        The pieces the range needs get deadlines (in reading order) so libtorrent fetches them
        before anything else; raises ``StreamTimeout`` (a ``TimeoutError``) if they are not all
        here in ``timeout`` seconds. Reads past the end of the file are cut short. ``urgent``
        (the default) puts the read ahead of every other: a new position. A reader continuing
        where its last read ended passes ``urgent=False`` and queues behind the reads already
        waiting. A read that ends, times out or is cancelled gives back the deadlines nobody
        else wants.
        """
        return await self._streaming.read(info_hash, file_index, offset, length, timeout, urgent)


_current: Engine | None = None


def current() -> Engine | None:
    """The engine running in this process, or None (web-only processes, tests without one)."""
    return _current


def install(engine: Engine | None) -> None:
    """Make ``engine`` the process's engine (the engine part does this when it starts)."""
    global _current
    _current = engine
