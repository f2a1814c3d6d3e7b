"""The BitTorrent engine: one libtorrent session, its alerts, fast-resume and streaming reads.

``Engine`` knows torrents by info hash (hex: the v1 hash when the torrent has one, else the v2
hash) and nothing about Django models; ``torrents.downloads`` is the layer the app calls. One
``Engine`` runs per process that holds the engine role (``plank.parts``); ``current()`` gives it
to code in the same process, and is ``None`` in a web-only process.

Threads. Every public method may be called from any thread (Django views, the downloads worker,
asyncio code). libtorrent's handles are thread-safe; the map from info hash to handle, the
waiters for pieces and the small piece cache sit behind one lock. A single thread waits for
alerts (``wait_for_alert`` + ``pop_alerts``) and dispatches them; it also posts status updates
(``on_progress``), saves resume data on a timer and applies the seeding policy. Hooks run on
that thread: keep them short (``torrents.downloads`` only puts them on a queue).

Choices worth knowing:

* Torrents are not auto-managed: every torrent is active (a queued torrent could not stream),
  and ``pause``/``resume`` mean what they say.
* ``close_redundant_connections`` is off. A torrent added with ``hold_files=True`` (nothing is
  downloaded until the files were vetted) is "finished" the moment its metadata arrives, and
  libtorrent would then drop its seeds and not dial them again for ``min_reconnect_time``.
* Streaming reads go through ``set_piece_deadline(..., alert_when_available)`` and the
  ``read_piece_alert`` it produces, not through the file on disk: libtorrent's disk layer may
  hold a verified piece in its write buffer before it reaches the file, and ``read_piece``
  reads through that buffer, so what a reader gets is always the verified piece.
* Deadlines are handed out per torrent from one ordered list of *claims* (see ``_arrange``):
  the pieces active reads wait for, then the streaming prefetch (a file's head, then its tail).
  An *urgent* read (a new position: the first bytes of a request, a seek) goes first, and while
  one waits nothing else keeps a deadline. That matters twice over in libtorrent: a piece with an
  older deadline is always served first, and only a deadline given while no other piece has one
  makes libtorrent cancel the bulk requests already queued at the peers (``cancel_non_critical``)
  instead of queueing the seek behind seconds of them. A read that ends or is cancelled (the
  player went elsewhere) gives its deadlines back (``reset_piece_deadline``, which also drops the
  piece to priority 1, so the file's priority is put back).
* ``min_reconnect_time`` is 5 s, not libtorrent's 60. After a kill -9 the peers still hold the
  dead process's uTP connections (UDP has no kernel-level close; TCP connections are reset by the
  kernel) until their uTP timeout, about 5 s, and refuse the restarted engine meanwhile as a
  duplicate; with the default the engine then waited a minute before dialling again. Peers named
  in a magnet are also re-added every ``REDIAL_SECONDS`` while a torrent has no peer at all, so a
  run of failed dials never makes libtorrent give up on them (``max_failcount``).
* Fast-resume files are written with the info dict (``save_info_dict``) so a magnet never needs
  its metadata again after a restart, and with ``flush_disk_cache`` so no piece is claimed that
  is not on disk; they are written atomically (tmp file, fsync, rename, fsync of the folder).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libtorrent as lt

log = logging.getLogger(__name__)

# Deadlines given to the pieces wanted for streaming, in milliseconds: the first piece is due
# now, each next one a little later, so libtorrent fetches them in the order they are wanted.
DEADLINE_FIRST_MS = 0
DEADLINE_STEP_MS = 40
# How often a waiting read re-arms its deadlines (a priority change or a re-check can drop them).
REARM_SECONDS = 1.0
# Seconds libtorrent waits before dialling a peer again (times its fail count + 1); see above.
MIN_RECONNECT_SECONDS = 5
# How often the peers a magnet named are re-added to a torrent that has no peer.
REDIAL_SECONDS = 30.0
TOP_PRIORITY = 7
DEFAULT_PRIORITY = 4
# A file being streamed: ahead of the torrent's other files, yet below the pieces that have a
# deadline (libtorrent raises those to 7). While deadlines are pending libtorrent's ordinary piece
# picker only picks priority-7 pieces; a whole streamed file at 7 would let it queue bulk
# (sequential) requests at the peers ahead of a seek's pieces.
STREAM_PRIORITY = 6

_STATE_NAMES = {
    lt.torrent_status.states.queued_for_checking: "checking",
    lt.torrent_status.states.checking_files: "checking",
    lt.torrent_status.states.checking_resume_data: "checking",
    lt.torrent_status.states.allocating: "checking",
    lt.torrent_status.states.downloading_metadata: "metadata",
    lt.torrent_status.states.downloading: "downloading",
    lt.torrent_status.states.finished: "finished",
    lt.torrent_status.states.seeding: "seeding",
}

_ALERT_MASK = (
    lt.alert_category.error
    | lt.alert_category.status
    | lt.alert_category.storage
    | lt.alert_category.piece_progress
)

_RESUME_FLAGS = lt.save_resume_flags_t.save_info_dict | lt.save_resume_flags_t.flush_disk_cache


class _Claim:
    """Pieces a read waits for, in reading order; a piece whose future is done is no longer
    wanted. ``urgent``: a new position (a request's first bytes, a seek), served before anything
    else; the reads that continue a response are not."""

    __slots__ = ("futures", "pieces", "urgent")

    def __init__(
        self, pieces: list[int], futures: dict[int, concurrent.futures.Future[bytes]], urgent: bool
    ) -> None:
        self.pieces = pieces
        self.futures = futures
        self.urgent = urgent

    def pending(self) -> list[int]:
        return [p for p in self.pieces if not self.futures[p].done()]


class EngineError(Exception):
    """The engine cannot do what was asked (unknown torrent, not started, bad magnet ...)."""


class StreamTimeout(EngineError):
    """A streaming read did not get its pieces in time."""


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


def key_of(hashes: Any) -> str:
    """The info hash Plank uses for a torrent: v1 hex when there is one, else v2 hex."""
    return str(hashes.v1) if hashes.has_v1() else str(hashes.v2)


def magnet_info_hash(uri: str) -> str:
    """The info hash of a magnet link, as the engine names the torrent. ValueError if invalid."""
    return key_of(_parse_magnet(uri).info_hashes)


def _parse_magnet(uri: str) -> Any:
    try:
        return lt.parse_magnet_uri(uri)
    except RuntimeError as exc:
        raise ValueError(f"Not a usable magnet link: {exc}") from exc


def _status(st: Any) -> DownloadStatus:
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
        state=_STATE_NAMES.get(st.state, str(st.state)),
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


Hook = Callable[..., None]


class Engine:
    """One libtorrent session and everything Plank asks of it. A ``plank.parts`` Part."""

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
        self.listen = listen
        self.resume_dir = Path(resume_dir)
        self.dht, self.lsd, self.upnp = dht, lsd, upnp
        self.seed_ratio = seed_ratio
        self.resume_interval = resume_interval
        self.progress_interval = progress_interval
        self.redial_interval = redial_interval
        self.cache_bytes = cache_bytes
        self.extra_settings = dict(settings or {})

        # Hooks, called on the alert thread: on_metadata(ih), on_finished(ih),
        # on_progress(ih, DownloadStatus), on_error(ih, message), on_state(ih, state),
        # on_piece(ih, piece).
        self.on_metadata: list[Hook] = []
        self.on_finished: list[Hook] = []
        self.on_progress: list[Hook] = []
        self.on_error: list[Hook] = []
        self.on_state: list[Hook] = []
        self.on_piece: list[Hook] = []

        self._session: Any = None
        self._lock = threading.RLock()
        self._handles: dict[str, Any] = {}
        self._magnet_peers: dict[str, list[tuple[str, int]]] = {}
        self._priorities: dict[str, list[int]] = {}
        self._waiters: dict[tuple[str, int], concurrent.futures.Future[bytes]] = {}
        # Streaming deadlines, per torrent (see _arrange): the reads' claims (urgent ones first),
        # the prefetch stages still to come (head, then tail) and the pieces given a deadline
        # (piece -> armed with alert_when_available).
        self._claims: dict[str, list[_Claim]] = {}
        self._prefetch: dict[str, list[list[int]]] = {}
        self._prefetch_asked: dict[str, tuple[int, int, int]] = {}
        self._armed: dict[str, dict[int, bool]] = {}
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._cache_size = 0
        self._saving: set[str] = set()
        self._saved = threading.Condition(self._lock)
        self._resume_files = threading.Lock()  # a removal and a resume write never interleave
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ life cycle

    @classmethod
    def from_settings(cls, **overrides: Any) -> Engine:
        """An engine configured from Django settings (``PLANK_TORRENT_*``, ``RESUME_DIR``)."""
        from django.conf import settings

        from torrents.preferences import engine_options

        options: dict[str, Any] = {
            "listen": settings.PLANK_TORRENT_LISTEN,
            "resume_dir": settings.RESUME_DIR,
            "resume_interval": getattr(settings, "PLANK_TORRENT_RESUME_SECONDS", 30.0),
            **engine_options(),
        }
        options.update(overrides)
        return cls(**options)

    def settings_pack(self) -> dict[str, Any]:
        pack: dict[str, Any] = {
            "listen_interfaces": self.listen,
            "enable_dht": self.dht,
            "enable_lsd": self.lsd,
            "enable_upnp": self.upnp,
            "enable_natpmp": self.upnp,
            "alert_mask": _ALERT_MASK,
            "alert_queue_size": 10000,
            "close_redundant_connections": False,
            "min_reconnect_time": MIN_RECONNECT_SECONDS,
            "user_agent": f"Plank/0.1 libtorrent/{lt.__version__}",
        }
        pack.update(self.extra_settings)
        return pack

    def apply_settings(self, **switches: bool) -> None:
        """Switch discovery at run time: ``apply_settings(dht=False, lsd=True, upnp=False)``."""
        for name in ("dht", "lsd", "upnp"):
            if name in switches:
                setattr(self, name, bool(switches[name]))
        if self._session is not None:
            self._session.apply_settings(
                {
                    "enable_dht": self.dht,
                    "enable_lsd": self.lsd,
                    "enable_upnp": self.upnp,
                    "enable_natpmp": self.upnp,
                }
            )

    @property
    def running(self) -> bool:
        return self._session is not None

    def start(self) -> None:
        if self._session is not None:
            return
        self.resume_dir.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self._session = lt.session(self.settings_pack())
        self._load_resume_files()
        self._thread = threading.Thread(target=self._run, name="plank-engine-alerts", daemon=True)
        self._thread.start()
        log.info("engine listening on %s (port %s)", self.listen, self.listen_port)

    def stop(self, timeout: float = 10.0) -> None:
        """Save resume data for every torrent that needs it, then close the session."""
        session = self._session
        if session is None:
            return
        session.pause()
        with self._lock:
            handles = list(self._handles.items())
        for key, handle in handles:
            self._save_resume(key, handle, only_if_needed=True)
        until = time.monotonic() + timeout
        with self._saved:
            while self._saving and (left := until - time.monotonic()) > 0:
                self._saved.wait(left)
            if self._saving:
                log.warning("resume data not saved in time for %s", sorted(self._saving))
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            for future in self._waiters.values():
                if not future.done():
                    future.set_exception(EngineError("The engine stopped."))
            self._waiters.clear()
            self._claims.clear()
            self._prefetch.clear()
            self._prefetch_asked.clear()
            self._armed.clear()
            self._handles.clear()
            self._cache.clear()
            self._cache_size = 0
            self._session = None
        del session  # destroying the session closes sockets and files

    @property
    def listen_port(self) -> int:
        return self._session.listen_port() if self._session is not None else 0

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

        ``hold_files``: every file starts at priority 0 when the metadata arrives, so nothing is
        downloaded until ``set_file_priorities`` picks files (the downloads layer vets first).
        Adding a torrent the engine already has returns its info hash and changes nothing.
        """
        session = self._require_session()
        atp = _parse_magnet(uri)
        key = key_of(atp.info_hashes)
        atp.save_path = str(save_path)
        flags = atp.flags & ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
        if paused:
            flags |= lt.torrent_flags.paused
        if hold_files:
            flags |= lt.torrent_flags.default_dont_download
        atp.flags = flags
        Path(save_path).mkdir(parents=True, exist_ok=True)
        with self._lock:  # registered before any alert about it can be handled
            if key in self._handles:
                return key
            handle = session.add_torrent(atp)
            self._handles[key] = handle
            self._magnet_peers[key] = list(atp.peers)
        # Persist at once: a restart before the first timed save must not forget the magnet.
        self._save_resume(key, handle, only_if_needed=False)
        return key

    def torrents(self) -> list[str]:
        with self._lock:
            return list(self._handles)

    def __contains__(self, info_hash: object) -> bool:
        with self._lock:
            return info_hash in self._handles

    def files(self, info_hash: str) -> list[TorrentFile] | None:
        """The torrent's files (pad files left out), or None until the metadata is here."""
        ti = self._handle(info_hash).torrent_file()
        if ti is None:
            return None
        fs = ti.layout()
        return [
            TorrentFile(index=i, path=fs.file_path(i), size=fs.file_size(i))
            for i in range(fs.num_files())
            if not fs.file_flags(i) & fs.flag_pad_file
        ]

    def set_file_priorities(self, info_hash: str, priorities: dict[int, int]) -> None:
        """Set the priority (0 = skip .. 7 = top) of the files named; others keep theirs."""
        handle = self._handle(info_hash)
        ti = self._torrent_info(handle)
        with self._lock:
            current = list(self._priorities.get(info_hash) or handle.get_file_priorities())
            if len(current) < ti.num_files():
                current += [DEFAULT_PRIORITY] * (ti.num_files() - len(current))
            for index, priority in priorities.items():
                if not 0 <= index < len(current):
                    raise EngineError(f"torrent {info_hash} has no file {index}")
                current[index] = max(0, min(TOP_PRIORITY, int(priority)))
            # prioritize_files is applied asynchronously; remember what we asked for so that a
            # second call right after the first builds on it, not on the old priorities.
            self._priorities[info_hash] = current
        handle.prioritize_files(current)

    def file_priorities(self, info_hash: str) -> list[int]:
        handle = self._handle(info_hash)
        with self._lock:
            known = self._priorities.get(info_hash)
        return list(known) if known is not None else list(handle.get_file_priorities())

    def status(self, info_hash: str) -> DownloadStatus:
        return _status(self._handle(info_hash).status())

    def pause(self, info_hash: str) -> None:
        handle = self._handle(info_hash)
        handle.unset_flags(lt.torrent_flags.auto_managed)
        handle.pause()
        self._save_resume(info_hash, handle, only_if_needed=False)

    def resume(self, info_hash: str) -> None:
        handle = self._handle(info_hash)
        handle.unset_flags(lt.torrent_flags.auto_managed)
        handle.resume()
        self._save_resume(info_hash, handle, only_if_needed=False)

    def reannounce(self, info_hash: str) -> None:
        """Look for peers again: trackers, DHT, and the peers the magnet named."""
        handle = self._handle(info_hash)
        handle.force_reannounce()
        if self.dht:
            handle.force_dht_announce()
        with self._lock:
            peers = list(self._magnet_peers.get(info_hash, ()))
        for peer in peers:
            handle.connect_peer(peer)

    def remove(self, info_hash: str, delete_files: bool = False) -> None:
        """Forget a torrent (and its fast-resume file); with ``delete_files``, its data too."""
        session = self._require_session()
        with self._lock:
            handle = self._handles.pop(info_hash, None)
            self._magnet_peers.pop(info_hash, None)
            self._priorities.pop(info_hash, None)
            self._claims.pop(info_hash, None)
            self._prefetch.pop(info_hash, None)
            self._prefetch_asked.pop(info_hash, None)
            self._armed.pop(info_hash, None)
            self._saving.discard(info_hash)
            self._saved.notify_all()
            for key in [k for k in self._waiters if k[0] == info_hash]:
                future = self._waiters.pop(key)
                if not future.done():
                    future.set_exception(EngineError("The torrent was removed."))
            for key in [k for k in self._cache if k[0] == info_hash]:
                self._cache_size -= len(self._cache.pop(key))
        if handle is not None:
            session.remove_torrent(handle, lt.options_t.delete_files if delete_files else 0)
        with self._resume_files:
            self._resume_path(info_hash).unlink(missing_ok=True)

    # ------------------------------------------------------------------ streaming

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
        handle = self._handle(info_hash)
        ti = self._torrent_info(handle)
        fs = ti.layout()
        size = fs.file_size(file_index)
        if self.file_priorities(info_hash)[file_index] != STREAM_PRIORITY:
            self.set_file_priorities(info_hash, {file_index: STREAM_PRIORITY})
        handle.set_flags(lt.torrent_flags.sequential_download)
        if size == 0:
            return
        asked = (file_index, head_bytes, tail_bytes)
        head = _pieces(ti, file_index, 0, min(size, max(head_bytes, 1)))
        tail_start = max(0, size - max(tail_bytes, 1))
        tail = [p for p in _pieces(ti, file_index, tail_start, size - tail_start) if p not in head]
        with self._lock:
            if self._prefetch_asked.get(info_hash) == asked:
                return  # every request of a stream asks again; once is enough
            self._prefetch_asked[info_hash] = asked
            self._prefetch[info_hash] = [stage for stage in (head, tail) if stage]
        self._arrange(info_hash)

    def piece_span(self, info_hash: str, file_index: int, offset: int) -> tuple[int, int]:
        """The piece holding byte ``offset`` of a file, as file offsets ``(start, end)``; the
        piece may begin before the file or end after it. A streaming read costs whole pieces, so
        a reader in a hurry reads up to ``end`` and no further."""
        ti = self._torrent_info(self._handle(info_hash))
        size = ti.layout().file_size(file_index)
        if not 0 <= offset < size:
            raise EngineError(f"offset {offset} is outside file {file_index} ({size} bytes)")
        where = ti.map_file(file_index, offset, 1)
        start = offset - int(where.start)
        return start, start + ti.piece_size(int(where.piece))

    def have_range(self, info_hash: str, file_index: int, start: int, end: int) -> bool:
        """Whether bytes ``[start, end)`` of the file are downloaded and verified."""
        handle = self._handle(info_hash)
        ti = handle.torrent_file()
        if ti is None:
            return False
        size = ti.layout().file_size(file_index)
        end = min(end, size)
        if end <= start:
            return True
        pieces = _pieces(ti, file_index, start, end - start)
        if len(pieces) <= 16:
            return all(handle.have_piece(p) for p in pieces)
        have = handle.status(lt.torrent_handle.query_pieces).pieces
        return all(have[p] for p in pieces)

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
        before anything else; raises ``StreamTimeout`` if they are not all here in ``timeout``
        seconds. Reads past the end of the file are cut short. ``urgent`` (the default) puts the
        read ahead of every other: a new position. A reader continuing where its last read ended
        passes ``urgent=False`` and queues behind the reads already waiting. A read that ends,
        times out or is cancelled gives back the deadlines nobody else wants.
        """
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout
        handle = self._handle(info_hash)
        while handle.torrent_file() is None:
            if loop.time() >= until:
                raise StreamTimeout(self._timeout_message(info_hash, timeout, None))
            await asyncio.sleep(0.1)
        spans, futures, claim = self._prepare_read(
            info_hash, handle, file_index, offset, length, urgent
        )
        try:
            pending = {asyncio.wrap_future(f) for f in futures.values() if not f.done()}
            while pending:
                left = until - loop.time()
                if left <= 0:
                    raise StreamTimeout(self._timeout_message(info_hash, timeout, futures))
                # asyncio.wait never cancels what it waits for: the futures are shared by readers.
                _, pending = await asyncio.wait(pending, timeout=min(REARM_SECONDS, left))
                if pending:
                    self._rearm(info_hash)
            return _assemble(spans, futures)
        finally:
            self._release(info_hash, claim)

    def read_blocking(
        self,
        info_hash: str,
        file_index: int,
        offset: int,
        length: int,
        timeout: float = 30.0,
        *,
        urgent: bool = True,
    ) -> bytes:
        """``read`` for synchronous callers (not from a running event loop)."""
        return asyncio.run(
            self.read(info_hash, file_index, offset, length, timeout, urgent=urgent)
        )

    def _prepare_read(
        self,
        info_hash: str,
        handle: Any,
        file_index: int,
        offset: int,
        length: int,
        urgent: bool,
    ) -> tuple[
        list[tuple[int, int, int]], dict[int, concurrent.futures.Future[bytes]], _Claim | None
    ]:
        ti = self._torrent_info(handle)
        fs = ti.layout()
        if not 0 <= file_index < fs.num_files():
            raise EngineError(f"torrent {info_hash} has no file {file_index}")
        if self.file_priorities(info_hash)[file_index] == 0:
            raise EngineError(f"file {file_index} of torrent {info_hash} is not being downloaded")
        length = max(0, min(length, fs.file_size(file_index) - offset))
        spans = _spans(ti, file_index, offset, length) if length and offset >= 0 else []
        futures: dict[int, concurrent.futures.Future[bytes]] = {}
        missing: list[int] = []
        claim = None
        with self._lock:
            for piece, _, _ in spans:
                if piece in futures:
                    continue
                cached = self._cache.get((info_hash, piece))
                if cached is not None:
                    self._cache.move_to_end((info_hash, piece))
                    done: concurrent.futures.Future[bytes] = concurrent.futures.Future()
                    done.set_result(cached)
                    futures[piece] = done
                    continue
                future = self._waiters.get((info_hash, piece))
                if future is None:
                    future = self._waiters[(info_hash, piece)] = concurrent.futures.Future()
                futures[piece] = future
                missing.append(piece)
            if missing:
                # registered with the waiters, under one lock: see _on_read_piece
                claim = _Claim(missing, futures, urgent)
                claims = self._claims.setdefault(info_hash, [])
                if urgent:
                    claims.insert(0, claim)
                else:
                    claims.append(claim)
        if claim is not None:
            self._arrange(info_hash)
        return spans, futures, claim

    def _release(self, info_hash: str, claim: _Claim | None) -> None:
        """A read is over (done, timed out or cancelled): what it alone wanted loses its
        deadline, and whatever it kept waiting gets one."""
        if claim is None:
            return
        with self._lock:
            claims = self._claims.get(info_hash, [])
            for i, other in enumerate(claims):
                if other is claim:
                    del claims[i]
                    break
            if not claims:
                self._claims.pop(info_hash, None)
        try:
            self._arrange(info_hash)
        except Exception:  # never mask what ended the read
            log.exception("re-arranging the deadlines of %s", info_hash)

    def _rearm(self, info_hash: str) -> None:
        """Deadlines again for what is still wanted (a priority change or a re-check can drop
        them); an error if the torrent went away meanwhile."""
        if info_hash not in self:
            raise EngineError("The torrent was removed.")
        self._arrange(info_hash)

    def _arrange(self, info_hash: str) -> None:
        """Give deadlines to the pieces wanted now, in the order they are wanted, and take them
        from pieces nothing wants any more.

        The order: the pieces of urgent claims (newest first) and, while any of those waits,
        nothing else; otherwise every claim's pieces (oldest first), then the current prefetch
        stage. The first piece is due now, the next ones ``DEADLINE_STEP_MS`` apart; all are
        set again each time, so the order holds whatever was set before. Stale deadlines are
        reset first, so that when only the new pieces remain libtorrent cancels the bulk
        requests queued at the peers rather than serving them first.
        """
        with self._lock:
            handle = self._handles.get(info_hash)  # never an alert's handle: another object
            if handle is None:
                return
            claims = self._claims.get(info_hash, [])
            urgent = [c for c in claims if c.urgent and c.pending()]
            wanted: dict[int, bool] = {}  # piece -> a read waits for its bytes
            for claim in urgent or claims:
                for piece in claim.pending():
                    wanted[piece] = True
            if not urgent:
                stages = self._prefetch.get(info_hash)
                while stages:
                    left = [p for p in stages[0] if not handle.have_piece(p)]
                    if left:
                        stages[0] = left
                        for piece in left:
                            wanted.setdefault(piece, False)
                        break
                    stages.pop(0)
            armed = self._armed.get(info_hash, {})
            stale = [p for p in armed if p not in wanted]
            if stale:
                ti = handle.torrent_file()
                levels = self.file_priorities(info_hash)
                for piece in stale:
                    handle.reset_piece_deadline(piece)
                    if ti is not None:  # the reset left it at priority 1
                        handle.piece_priority(piece, _piece_level(ti, piece, levels))
            for rank, (piece, read) in enumerate(wanted.items()):
                # A file picked a moment ago may not have reached the piece picker yet (priorities
                # are applied asynchronously); a deadline on a priority-0 piece would be ignored.
                if handle.piece_priority(piece) == 0:
                    handle.piece_priority(piece, TOP_PRIORITY)
                flags = lt.torrent_handle.alert_when_available if read else 0
                handle.set_piece_deadline(piece, DEADLINE_FIRST_MS + rank * DEADLINE_STEP_MS, flags)
            if wanted:
                self._armed[info_hash] = wanted
            else:
                self._armed.pop(info_hash, None)

    def _piece_done(self, info_hash: str, piece: int) -> None:
        """A piece arrived: once every prefetch piece armed is here, arm the next stage."""
        with self._lock:
            armed = self._armed.get(info_hash)
            if not armed or piece not in armed:
                return
            del armed[piece]
            if armed or not self._prefetch.get(info_hash):
                return
            if any(c.urgent and c.pending() for c in self._claims.get(info_hash, [])):
                return  # the urgent read re-arranges when it ends
        self._arrange(info_hash)

    def _timeout_message(
        self,
        info_hash: str,
        timeout: float,
        futures: dict[int, concurrent.futures.Future[bytes]] | None,
    ) -> str:
        try:
            st = self.status(info_hash)
            peers = f"{st.peers} peer{'s' if st.peers != 1 else ''}"
            name = st.name or info_hash
        except EngineError:
            peers, name = "no peers", info_hash
        if futures is None:
            return f"Timed out after {timeout:g}s: the metadata of {name} has not arrived yet ({peers})."
        waiting = sorted(p for p, f in futures.items() if not f.done())
        return (
            f"Timed out after {timeout:g}s waiting for {len(waiting)} of {len(futures)} piece(s) "
            f"of {name} (first missing: {waiting[0] if waiting else '-'}; {peers})."
        )

    # ------------------------------------------------------------------ alerts

    def _run(self) -> None:
        next_progress = time.monotonic()
        next_resume = time.monotonic() + self.resume_interval
        next_redial = time.monotonic() + self.redial_interval
        while not self._stopping.is_set():
            session = self._session
            if session is None:
                break
            try:
                session.wait_for_alert(200)
                for alert in session.pop_alerts():
                    self._dispatch(alert)
                now = time.monotonic()
                if now >= next_progress:
                    next_progress = now + self.progress_interval
                    session.post_torrent_updates()
                if now >= next_resume:
                    next_resume = now + self.resume_interval
                    with self._lock:
                        handles = list(self._handles.items())
                    for key, handle in handles:
                        self._save_resume(key, handle, only_if_needed=True)
                if now >= next_redial:
                    next_redial = now + self.redial_interval
                    self._redial_lonely()
            except Exception:  # the alert loop must survive anything one alert does
                log.exception("engine alert loop")

    def _dispatch(self, alert: Any) -> None:
        if isinstance(alert, lt.read_piece_alert):
            self._on_read_piece(alert)
        elif isinstance(alert, lt.piece_finished_alert):
            key = key_of(alert.handle.info_hashes())
            self._piece_done(key, int(alert.piece_index))
            self._fire(self.on_piece, key, int(alert.piece_index))
        elif isinstance(alert, lt.state_update_alert):
            for st in alert.status:
                status = _status(st)
                self._apply_seed_ratio(st.handle, status)
                self._fire(self.on_progress, status.info_hash, status)
        elif isinstance(alert, lt.save_resume_data_alert):
            self._on_resume_data(alert)
        elif isinstance(alert, lt.save_resume_data_failed_alert):
            key = key_of(alert.handle.info_hashes())
            log.warning("saving resume data of %s failed: %s", key, alert.message())
            self._done_saving(key)
        elif isinstance(alert, lt.metadata_received_alert):
            key = key_of(alert.handle.info_hashes())
            self._save_resume(key, alert.handle, only_if_needed=False)
            self._fire(self.on_metadata, key)
        elif isinstance(alert, lt.torrent_finished_alert):
            self._on_torrent_finished(alert.handle)
        elif isinstance(alert, lt.state_changed_alert):
            self._fire(
                self.on_state, key_of(alert.handle.info_hashes()), _STATE_NAMES.get(alert.state, "")
            )
        elif isinstance(alert, lt.torrent_error_alert | lt.file_error_alert):
            key = key_of(alert.handle.info_hashes())
            log.error("torrent %s: %s", key, alert.message())
            self._fire(self.on_error, key, alert.message())
        elif isinstance(alert, lt.listen_failed_alert):
            log.error("engine: %s", alert.message())
        elif isinstance(alert, lt.fastresume_rejected_alert):
            log.warning("engine: %s", alert.message())

    def _redial_lonely(self) -> None:
        """Re-add the magnet's peers to each running torrent that has no peer and still wants
        something. libtorrent stops dialling a peer after ``max_failcount`` failed attempts; a
        peer coming from a source again earns another try."""
        with self._lock:
            torrents = [(h, list(self._magnet_peers.get(k, ()))) for k, h in self._handles.items()]
        for handle, peers in torrents:
            if not peers:
                continue
            st = handle.status()
            if st.num_peers or st.is_finished or st.flags & lt.torrent_flags.paused:
                continue
            for peer in peers:
                handle.connect_peer(peer)

    def _fire(self, hooks: list[Hook], *args: Any) -> None:
        for hook in list(hooks):
            try:
                hook(*args)
            except Exception:
                log.exception("engine hook %r failed", hook)

    def _on_read_piece(self, alert: Any) -> None:
        key = (key_of(alert.handle.info_hashes()), int(alert.piece))
        error = alert.error.value()
        if error == errno.ECANCELED:
            # Our own reset_piece_deadline: the piece was no longer wanted. A read that wants it
            # again by now keeps its waiter and gets the deadline back; else forget the waiter.
            with self._lock:
                wanted = any(key[1] in c.pending() for c in self._claims.get(key[0], []))
                if not wanted:
                    self._waiters.pop(key, None)
            if wanted:
                self._arrange(key[0])
            return
        with self._lock:
            future = self._waiters.pop(key, None)
            if error:
                if future is not None and not future.done():
                    future.set_exception(EngineError(alert.message()))
                return
            data = bytes(alert.buffer)
            if key not in self._cache and len(data) <= self.cache_bytes:
                self._cache[key] = data
                self._cache_size += len(data)
                while self._cache_size > self.cache_bytes:
                    _, old = self._cache.popitem(last=False)
                    self._cache_size -= len(old)
        if future is not None and not future.done():
            future.set_result(data)

    def _on_torrent_finished(self, handle: Any) -> None:
        status = _status(handle.status())
        if not status.finished:  # nothing wanted yet (held for vetting): not a completion
            return
        if self.seed_ratio is None and not status.paused:
            handle.pause()
        self._save_resume(status.info_hash, handle, only_if_needed=False)
        self._fire(self.on_finished, status.info_hash)

    def _apply_seed_ratio(self, handle: Any, status: DownloadStatus) -> None:
        if self.seed_ratio is None or status.paused or not status.finished:
            return
        if status.all_time_upload >= self.seed_ratio * status.total_wanted:
            log.info("%s reached seed ratio %.2f; stopping", status.info_hash, self.seed_ratio)
            handle.pause()
            self._save_resume(status.info_hash, handle, only_if_needed=False)

    # ------------------------------------------------------------------ fast-resume

    def _resume_path(self, info_hash: str) -> Path:
        return self.resume_dir / f"{info_hash}.fastresume"

    def _save_resume(self, key: str, handle: Any, *, only_if_needed: bool) -> None:
        if only_if_needed and not handle.need_save_resume_data():
            return
        with self._lock:
            if key not in self._handles:
                return
            self._saving.add(key)
        handle.save_resume_data(_RESUME_FLAGS)

    def _on_resume_data(self, alert: Any) -> None:
        key = key_of(alert.handle.info_hashes())
        try:
            with self._resume_files:
                if key in self:  # a torrent removed meanwhile must not come back from its file
                    params = alert.params
                    with self._lock:
                        named = self._magnet_peers.get(key, [])
                    # libtorrent keeps only the peers it deems worth it; the ones the magnet
                    # named (x.pe) may be the only way to the swarm, so they always come along.
                    known = set(params.peers)
                    params.peers = list(params.peers) + [p for p in named if p not in known]
                    write_atomically(self._resume_path(key), lt.write_resume_data_buf(params))
        except OSError:
            log.exception("writing resume data of %s", key)
        finally:
            self._done_saving(key)

    def _done_saving(self, key: str) -> None:
        with self._lock:
            self._saving.discard(key)
            self._saved.notify_all()

    def _load_resume_files(self) -> None:
        for path in sorted(self.resume_dir.glob("*.fastresume")):
            try:
                atp = lt.read_resume_data(path.read_bytes())
            except Exception as exc:
                log.error("cannot load %s (%s); moved aside", path.name, exc)
                path.replace(path.with_name(path.name + ".bad"))
                continue
            key = key_of(atp.info_hashes)
            with self._lock:
                self._handles[key] = self._session.add_torrent(atp)
                self._magnet_peers[key] = list(atp.peers)
            log.info("resumed %s (%s)", key, atp.name or "no metadata yet")

    # ------------------------------------------------------------------ helpers

    def _require_session(self) -> Any:
        if self._session is None:
            raise EngineError("The BitTorrent engine is not running.")
        return self._session

    def _handle(self, info_hash: str) -> Any:
        self._require_session()
        with self._lock:
            handle = self._handles.get(info_hash)
        if handle is None:
            raise EngineError(f"The engine has no torrent {info_hash}.")
        return handle

    def _torrent_info(self, handle: Any) -> Any:
        ti = handle.torrent_file()
        if ti is None:
            raise EngineError("The torrent's metadata has not arrived yet.")
        return ti


def _spans(ti: Any, file_index: int, offset: int, length: int) -> list[tuple[int, int, int]]:
    """(piece, start in piece, length) for bytes [offset, offset+length) of a file."""
    first = ti.map_file(file_index, offset, length)
    spans = []
    piece, start, left = int(first.piece), int(first.start), length
    while left > 0:
        take = min(ti.piece_size(piece) - start, left)
        spans.append((piece, start, take))
        left -= take
        piece, start = piece + 1, 0
    return spans


def _pieces(ti: Any, file_index: int, offset: int, length: int) -> list[int]:
    return [piece for piece, _, _ in _spans(ti, file_index, offset, length)]


def _piece_level(ti: Any, piece: int, file_priorities: list[int]) -> int:
    """The priority a piece has from its files (the highest of the files it holds bytes of)."""
    level = 0
    for part in ti.map_block(piece, 0, ti.piece_size(piece)):
        index = int(part.file_index)
        if index < len(file_priorities):
            level = max(level, int(file_priorities[index]))
    return level


def _assemble(
    spans: Iterable[tuple[int, int, int]], futures: dict[int, concurrent.futures.Future[bytes]]
) -> bytes:
    return b"".join(futures[piece].result()[start : start + n] for piece, start, n in spans)


_current: Engine | None = None


def current() -> Engine | None:
    """The engine running in this process, or None (web-only processes, tests without one)."""
    return _current


def install(engine: Engine | None) -> None:
    """Make ``engine`` the process's engine (the engine part does this when it starts)."""
    global _current
    _current = engine
