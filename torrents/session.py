"""The libtorrent session and the torrents in it, named by info hash.

``Session`` opens and closes the session, keeps the map from info hash to handle (with the peers
each magnet named and the file priorities asked for) and does what is asked of one torrent: add,
files, priorities, status, pause, resume, reannounce, remove. It saves nothing and knows nothing
of streaming; the ``Engine`` facade combines it with the other parts. Its lock is the engine's
one lock (the other parts use it too, so one decision about a torrent is never half made).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import libtorrent as lt

from torrents.engine_types import (
    DEFAULT_PRIORITY,
    TOP_PRIORITY,
    DownloadStatus,
    EngineError,
    TorrentFile,
    key_of,
    parse_magnet,
    status_of,
)

log = logging.getLogger(__name__)

# Seconds libtorrent waits before dialling a peer again (times its fail count + 1). After a
# kill -9 the peers hold the dead process's uTP connections for about 5 s (docs/engine.md).
MIN_RECONNECT_SECONDS = 5

ALERT_MASK = (
    lt.alert_category.error
    | lt.alert_category.status
    | lt.alert_category.storage
    | lt.alert_category.piece_progress
)

Peer = tuple[str, int]


class Session:
    """One libtorrent session and the torrents it holds."""

    def __init__(
        self,
        *,
        listen: str,
        dht: bool,
        lsd: bool,
        upnp: bool,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.listen = listen
        self.dht, self.lsd, self.upnp = dht, lsd, upnp
        self.extra_settings = dict(settings or {})
        self.lock = threading.RLock()
        self.lt_session: Any = None
        self._handles: dict[str, Any] = {}
        self._magnet_peers: dict[str, list[Peer]] = {}
        self._priorities: dict[str, list[int]] = {}
        # Torrents with a peer known to drop cancelled requests without the reject the fast
        # extension promises (kept by torrents.stalls; read by torrents.deadlines, which then
        # never makes libtorrent cancel the requests queued at the peers).
        self.keeps_requests: set[str] = set()

    # ------------------------------------------------------------------ the session

    def settings_pack(self) -> dict[str, Any]:
        pack: dict[str, Any] = {
            "listen_interfaces": self.listen,
            "enable_dht": self.dht,
            "enable_lsd": self.lsd,
            "enable_upnp": self.upnp,
            "enable_natpmp": self.upnp,
            "alert_mask": ALERT_MASK,
            "alert_queue_size": 10000,
            # A torrent held for vetting is "finished" when its metadata comes; libtorrent would
            # then drop its seeds and not dial them again for min_reconnect_time.
            "close_redundant_connections": False,
            "min_reconnect_time": MIN_RECONNECT_SECONDS,
            # A seek without a deadline (torrents.deadlines: a peer that drops cancels) waits for
            # the requests queued at the peer: keep that queue short. libtorrent's default picks
            # whole runs of up to 8 MiB per request round ("whole pieces") and queues 3 s.
            "whole_pieces_threshold": 0,
            "request_queue_time": 2,
            "user_agent": f"Plank/0.1 libtorrent/{lt.__version__}",
        }
        pack.update(self.extra_settings)
        return pack

    def apply_settings(self, **switches: bool) -> None:
        """Switch discovery at run time: ``apply_settings(dht=False, lsd=True, upnp=False)``."""
        for name in ("dht", "lsd", "upnp"):
            if name in switches:
                setattr(self, name, bool(switches[name]))
        if self.lt_session is not None:
            self.lt_session.apply_settings(
                {
                    "enable_dht": self.dht,
                    "enable_lsd": self.lsd,
                    "enable_upnp": self.upnp,
                    "enable_natpmp": self.upnp,
                }
            )

    @property
    def running(self) -> bool:
        return self.lt_session is not None

    @property
    def listen_port(self) -> int:
        return self.lt_session.listen_port() if self.lt_session is not None else 0

    def open(self) -> None:
        self.lt_session = lt.session(self.settings_pack())

    def close(self) -> None:
        """Forget every torrent and drop the session (destroying it closes sockets and files)."""
        with self.lock:
            self._handles.clear()
            self.lt_session = None

    def require(self) -> Any:
        """The libtorrent session; EngineError when the engine is not running."""
        if self.lt_session is None:
            raise EngineError("The BitTorrent engine is not running.")
        return self.lt_session

    # ------------------------------------------------------------------ the torrents

    def add(self, atp: Any) -> tuple[str, Any | None]:
        """Add a torrent (``add_torrent_params``): its info hash, and its handle (None when the
        session already had it: nothing changes then). Registered before any alert about it can
        be handled."""
        session = self.require()
        key = key_of(atp.info_hashes)
        with self.lock:
            if key in self._handles:
                return key, None
            handle = session.add_torrent(atp)
            self._handles[key] = handle
            self._magnet_peers[key] = list(atp.peers)
        return key, handle

    def add_magnet(
        self, uri: str, save_path: Path | str, *, paused: bool, hold_files: bool
    ) -> tuple[str, Any | None]:
        """Add a magnet link, not auto-managed (see ``Engine.add_magnet``); as ``add``."""
        self.require()
        atp = parse_magnet(uri)
        atp.save_path = str(save_path)
        flags = atp.flags & ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
        if paused:
            flags |= lt.torrent_flags.paused
        if hold_files:
            flags |= lt.torrent_flags.default_dont_download
        atp.flags = flags
        Path(save_path).mkdir(parents=True, exist_ok=True)
        return self.add(atp)

    def add_torrent_file(
        self, data: bytes, save_path: Path | str, *, hold_files: bool
    ) -> tuple[str, Any | None]:
        """Add a torrent from a ``.torrent`` file's bytes (its metadata is known at once), not
        auto-managed; as ``add``. Raises EngineError when the bytes are not a torrent."""
        self.require()
        try:
            info = lt.torrent_info(lt.bdecode(data))
        except (RuntimeError, TypeError, ValueError) as exc:
            raise EngineError(f"This is not a valid .torrent file ({exc}).") from None
        atp = lt.add_torrent_params()
        atp.ti = info
        atp.save_path = str(save_path)
        flags = atp.flags & ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
        if hold_files:
            flags |= lt.torrent_flags.default_dont_download
        atp.flags = flags
        Path(save_path).mkdir(parents=True, exist_ok=True)
        return self.add(atp)

    def forget(self, info_hash: str) -> Any | None:
        """Drop a torrent from the map (its handle, or None); ``remove_handle`` ends it."""
        with self.lock:
            self._magnet_peers.pop(info_hash, None)
            self._priorities.pop(info_hash, None)
            self.keeps_requests.discard(info_hash)
            return self._handles.pop(info_hash, None)

    def remove_handle(self, handle: Any, *, delete_files: bool) -> None:
        self.require().remove_torrent(handle, lt.options_t.delete_files if delete_files else 0)

    def torrents(self) -> list[str]:
        with self.lock:
            return list(self._handles)

    def handles(self) -> list[tuple[str, Any]]:
        with self.lock:
            return list(self._handles.items())

    def __contains__(self, info_hash: object) -> bool:
        with self.lock:
            return info_hash in self._handles

    def handle(self, info_hash: str) -> Any:
        """The torrent's handle; EngineError when it is unknown or the engine is not running."""
        self.require()
        with self.lock:
            handle = self._handles.get(info_hash)
        if handle is None:
            raise EngineError(f"The engine has no torrent {info_hash}.")
        return handle

    def handle_or_none(self, info_hash: str) -> Any | None:
        """The torrent's handle as the map has it (never an alert's handle: another object)."""
        with self.lock:
            return self._handles.get(info_hash)

    def magnet_peers(self, info_hash: str) -> list[Peer]:
        with self.lock:
            return list(self._magnet_peers.get(info_hash, ()))

    @staticmethod
    def torrent_info(handle: Any) -> Any:
        ti = handle.torrent_file()
        if ti is None:
            raise EngineError("The torrent's metadata has not arrived yet.")
        return ti

    def files(self, info_hash: str) -> list[TorrentFile] | None:
        """The torrent's files (pad files left out), or None until the metadata is here."""
        ti = self.handle(info_hash).torrent_file()
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
        handle = self.handle(info_hash)
        ti = self.torrent_info(handle)
        with self.lock:
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
        handle = self.handle(info_hash)
        with self.lock:
            known = self._priorities.get(info_hash)
        return list(known) if known is not None else list(handle.get_file_priorities())

    def status(self, info_hash: str) -> DownloadStatus:
        return status_of(self.handle(info_hash).status())

    def pause(self, info_hash: str) -> Any:
        """Pause the torrent; its handle (a change the caller saves)."""
        handle = self.handle(info_hash)
        handle.unset_flags(lt.torrent_flags.auto_managed)
        handle.pause()
        return handle

    def resume(self, info_hash: str) -> Any:
        """Resume the torrent; its handle (a change the caller saves)."""
        handle = self.handle(info_hash)
        handle.unset_flags(lt.torrent_flags.auto_managed)
        handle.resume()
        return handle

    def reannounce(self, info_hash: str) -> None:
        """Look for peers again: trackers, DHT, and the peers the magnet named."""
        handle = self.handle(info_hash)
        handle.force_reannounce()
        if self.dht:
            handle.force_dht_announce()
        for peer in self.magnet_peers(info_hash):
            handle.connect_peer(peer)

    def redial_lonely(self) -> None:
        """Re-add the magnet's peers to each running torrent that has no peer and still wants
        something. libtorrent stops dialling a peer after ``max_failcount`` failed attempts; a
        peer coming from a source again earns another try."""
        with self.lock:
            torrents = [(h, list(self._magnet_peers.get(k, ()))) for k, h in self._handles.items()]
        for handle, peers in torrents:
            if not peers:
                continue
            st = handle.status()
            if st.num_peers or st.is_finished or st.flags & lt.torrent_flags.paused:
                continue
            for peer in peers:
                handle.connect_peer(peer)
