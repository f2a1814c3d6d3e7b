"""The engine's vocabulary, shared by its parts and its callers: errors, how a torrent is named
(its info hash), the records the engine hands out (files, status) and the priority levels.

Its own module so that the parts of the engine (``session``, ``resume``, ``pieces``, ``alerts``)
and the facade in ``torrents.engine`` can all use it without importing each other.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import libtorrent as lt

log = logging.getLogger(__name__)

TOP_PRIORITY = 7
DEFAULT_PRIORITY = 4
# A file being streamed: ahead of the torrent's other files, yet below the pieces that have a
# deadline (libtorrent raises those to 7). While deadlines are pending libtorrent's ordinary piece
# picker only picks priority-7 pieces; a whole streamed file at 7 would let it queue bulk
# (sequential) requests at the peers ahead of a seek's pieces.
STREAM_PRIORITY = 6

STATE_NAMES = {
    lt.torrent_status.states.queued_for_checking: "checking",
    lt.torrent_status.states.checking_files: "checking",
    lt.torrent_status.states.checking_resume_data: "checking",
    lt.torrent_status.states.allocating: "checking",
    lt.torrent_status.states.downloading_metadata: "metadata",
    lt.torrent_status.states.downloading: "downloading",
    lt.torrent_status.states.finished: "finished",
    lt.torrent_status.states.seeding: "seeding",
}


class EngineError(Exception):
    """The engine cannot do what was asked (unknown torrent, not started, bad magnet ...)."""


def handle_gone(exc: BaseException) -> bool:
    """libtorrent's error for a handle of a torrent removed meanwhile (an expected race)."""
    return isinstance(exc, RuntimeError) and "invalid torrent handle" in str(exc)


class StreamTimeout(EngineError, TimeoutError):
    """A streaming read did not get its pieces in time (a ``TimeoutError``, as the library's
    ``PieceReader`` protocol asks)."""


@dataclass(frozen=True)
class TorrentFile:
    index: int
    path: str
    size: int


@dataclass(frozen=True)
class DownloadStatus:
    info_hash: str
    name: str
    state: str  # checking | metadata | downloading | finished | seeding
    has_metadata: bool
    progress: float  # 0..1 of the wanted bytes
    download_rate: int  # payload bytes per second
    upload_rate: int
    peers: int
    seeds: int
    eta: int | None  # seconds; None when nothing is coming in
    total_wanted: int
    total_wanted_done: int
    all_time_upload: int
    total_payload_download: int
    paused: bool
    error: str

    @property
    def finished(self) -> bool:
        """Every wanted byte is here (and something was wanted)."""
        return self.total_wanted > 0 and self.total_wanted_done >= self.total_wanted


Hook = Callable[..., None]


@dataclass
class Hooks:
    """What the engine calls on its alert thread (keep them short): ``on_metadata(ih)``,
    ``on_finished(ih)``, ``on_progress(ih, DownloadStatus)``, ``on_error(ih, message)``,
    ``on_state(ih, state)``, ``on_piece(ih, piece)``."""

    on_metadata: list[Hook] = field(default_factory=list)
    on_finished: list[Hook] = field(default_factory=list)
    on_progress: list[Hook] = field(default_factory=list)
    on_error: list[Hook] = field(default_factory=list)
    on_state: list[Hook] = field(default_factory=list)
    on_piece: list[Hook] = field(default_factory=list)

    @staticmethod
    def fire(hooks: list[Hook], *args: Any) -> None:
        """Call each hook; one that fails is logged and the others still run."""
        for hook in list(hooks):
            try:
                hook(*args)
            except Exception:
                log.exception("engine hook %r failed", hook)


def key_of(hashes: Any) -> str:
    """The info hash Plank uses for a torrent: v1 hex when there is one, else v2 hex."""
    return str(hashes.v1) if hashes.has_v1() else str(hashes.v2)


def parse_magnet(uri: str) -> Any:
    """libtorrent's ``add_torrent_params`` for a magnet link. ValueError if it is not one."""
    try:
        return lt.parse_magnet_uri(uri)
    except RuntimeError as exc:
        raise ValueError(f"Not a usable magnet link: {exc}") from exc


def magnet_info_hash(uri: str) -> str:
    """The info hash of a magnet link, as the engine names the torrent. ValueError if invalid."""
    return key_of(parse_magnet(uri).info_hashes)


def status_of(st: Any) -> DownloadStatus:
    """A ``DownloadStatus`` from libtorrent's ``torrent_status``."""
    left = max(st.total_wanted - st.total_wanted_done, 0)
    rate = st.download_payload_rate
    if st.has_metadata and st.total_wanted > 0 and left == 0:
        eta: int | None = 0
    elif rate > 0 and st.has_metadata:
        eta = math.ceil(left / rate)
    else:
        eta = None
    error = st.errc.message() if st.errc.value() else ""
    return DownloadStatus(
        info_hash=key_of(st.info_hashes),
        name=st.name,
        state=STATE_NAMES.get(st.state, str(st.state)),
        has_metadata=st.has_metadata,
        progress=float(st.progress),
        download_rate=int(rate),
        upload_rate=int(st.upload_payload_rate),
        peers=int(st.num_peers),
        seeds=int(st.num_seeds),
        eta=eta,
        total_wanted=int(st.total_wanted),
        total_wanted_done=int(st.total_wanted_done),
        all_time_upload=int(st.all_time_upload),
        total_payload_download=int(st.total_payload_download),
        paused=bool(st.flags & lt.torrent_flags.paused),
        error=error,
    )
