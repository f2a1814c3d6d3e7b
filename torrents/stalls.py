"""The stall watchdog: peers that hold requests they will never answer are reconnected.

Why (docs/engine.md, "Streaming from real swarms"): when a read sets the first piece deadline,
libtorrent cancels the bulk requests queued at every peer (``cancel_non_critical``). With the fast
extension (BEP 6) a peer must answer each cancelled request with the piece or a reject, and
libtorrent keeps the cancelled requests in the peer's queue until it does. Transmission before
4.0 drops cancelled requests without a reject (transmission/transmission#511, fixed by #2275), so
the queue stays full of requests nobody will answer, libtorrent sends that peer nothing new, and
the torrent stalls until the connection dies — about five minutes. Transmission is common in
real swarms.

Two defences. First, a torrent with a peer known to drop cancels (Transmission 2.x and 3.x, by
the client name it sends) is marked in ``Session.keeps_requests``, and ``torrents.deadlines``
then never makes libtorrent cancel the requests queued at the peers (a seek waits for them to
drain, a second or two, instead of losing the peer for up to ten: Transmission unchokes a new
connection only at its next ten-second rechoke). Second, for any other peer that behaves so, the
watchdog: it looks at every downloading torrent twice a second. A peer *holds* requests when
libtorrent's queue for it is longer than the blocks the piece picker says are requested from it
(the rest are cancelled requests waiting for an answer); a peer that holds some and sends
nothing for ``quiet`` seconds is dropped and dialled again (a new connection starts with an
empty queue). libtorrent's Python API has no "disconnect this peer": a one-address rule in the
session's IP filter drops every connection from that address, and the filter is put back at
once. A peer that dialled us (we cannot dial it back: its listening port is not known) is given
longer, ``incoming_quiet``, before it is dropped; it or the swarm's trackers bring it back.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import libtorrent as lt

from torrents.session import Session

log = logging.getLogger(__name__)

CHECK_SECONDS = 0.5
QUIET_SECONDS = 1.0
INCOMING_QUIET_SECONDS = 10.0
BLOCKED = 1  # lt.ip_filter's access flag for a blocked range
_REQUESTED = 1  # block_info.state: requested, not yet received

Endpoint = tuple[str, int]


@dataclass
class _Watched:
    received: int  # the peer's total payload bytes when last seen
    held: int  # requests it held then
    since: float  # when it last sent something (or began holding)


def ignores_cancels(client: bytes | str) -> bool:
    """Whether a peer's client is one known to drop cancelled requests without a reject:
    Transmission before 4.0 (transmission/transmission#511)."""
    name = client.decode("utf-8", "replace") if isinstance(client, bytes) else client
    if not name.startswith("Transmission "):
        return False
    major = name.removeprefix("Transmission ").split(".")[0]
    return major.isdigit() and int(major) < 4


class StallWatch:
    """Finds peers holding requests without delivering, and reconnects them."""

    def __init__(
        self,
        session: Session,
        *,
        quiet: float = QUIET_SECONDS,
        incoming_quiet: float = INCOMING_QUIET_SECONDS,
    ) -> None:
        self.session = session
        self.quiet = quiet
        self.incoming_quiet = incoming_quiet
        self.reconnected = 0  # peers dropped and dialled again since the engine started
        self._watched: dict[tuple[str, Endpoint], _Watched] = {}

    def check(self, now: float | None = None) -> list[str]:
        """Look at every downloading torrent once: reconnect the peers that stall, and note
        which torrents have a peer that drops cancels. The torrents whose note changed."""
        now = time.monotonic() if now is None else now
        stalled: dict[str, list[Endpoint | None]] = {}
        seen: set[tuple[str, Endpoint]] = set()
        changed: list[str] = []
        for info_hash, handle in self.session.handles():
            try:
                peers = self._stalled_peers(info_hash, handle, now, seen, changed)
            except RuntimeError:  # the torrent was removed meanwhile (an invalid handle)
                continue
            for endpoint, outgoing in peers:
                stalled.setdefault(endpoint[0], []).append(endpoint if outgoing else None)
        for key in [k for k in self._watched if k not in seen]:
            del self._watched[key]
        if stalled:
            self._reconnect(stalled)
        return changed

    def classify(self, info_hash: str, peers: list[Any] | None = None) -> bool:
        """Note whether a peer of the torrent drops cancelled requests
        (``Session.keeps_requests``); ``peers``: its ``peer_info`` list, if at hand. Whether
        the note changed."""
        if peers is None:
            handle = self.session.handle_or_none(info_hash)
            if handle is None:
                return False
            peers = handle.get_peer_info()
        keeps = any(ignores_cancels(peer.client) for peer in peers)
        with self.session.lock:
            before = info_hash in self.session.keeps_requests
            if keeps:
                self.session.keeps_requests.add(info_hash)
            else:
                self.session.keeps_requests.discard(info_hash)
        return keeps != before

    def _stalled_peers(
        self,
        info_hash: str,
        handle: Any,
        now: float,
        seen: set[tuple[str, Endpoint]],
        changed: list[str],
    ) -> list[tuple[Endpoint, bool]]:
        st = handle.status()
        if st.flags & lt.torrent_flags.paused or st.is_finished or not st.num_peers:
            return []
        peers = handle.get_peer_info()
        if self.classify(info_hash, peers):
            changed.append(info_hash)
        requested: Counter[Endpoint] = Counter()
        for piece in handle.get_download_queue():
            for block in piece["blocks"]:
                if block["state"] == _REQUESTED:
                    requested[tuple(block["peer"])] += 1
        found = []
        for peer in peers:
            endpoint = (str(peer.ip[0]), int(peer.ip[1]))
            key = (info_hash, endpoint)
            held = int(peer.download_queue_length) - requested[endpoint]
            received = int(peer.total_download)
            seen.add(key)
            watched = self._watched.get(key)
            if held <= 0 or watched is None or received != watched.received or held < watched.held:
                self._watched[key] = _Watched(received, max(held, 0), now)
                continue
            outgoing = bool(peer.flags & lt.peer_info.outgoing_connection)
            if now - watched.since >= (self.quiet if outgoing else self.incoming_quiet):
                log.info(
                    "engine: peer %s:%s (%s) holds %d request(s) it does not answer and sent "
                    "nothing for %.1fs; reconnecting it",
                    *endpoint,
                    peer.client.decode("utf-8", "replace") if peer.client else "?",
                    held,
                    now - watched.since,
                )
                del self._watched[key]
                found.append((endpoint, outgoing))
        return found

    def _reconnect(self, stalled: dict[str, list[Endpoint | None]]) -> None:
        """Drop every connection from the stalled peers' addresses (the IP filter takes an
        address, not a connection), then dial again each one we can dial back."""
        lt_session = self.session.require()
        redial: list[tuple[Any, Endpoint]] = []
        for _, handle in self.session.handles():
            try:
                for peer in handle.get_peer_info():
                    ip, port = str(peer.ip[0]), int(peer.ip[1])
                    if ip in stalled and peer.flags & lt.peer_info.outgoing_connection:
                        redial.append((handle, (ip, port)))
            except RuntimeError:
                continue
        previous = lt_session.get_ip_filter()
        blocking = lt_session.get_ip_filter()
        for ip in stalled:
            blocking.add_rule(ip, ip, BLOCKED)
        # Both are queued to libtorrent's network thread in this order: the first drops the
        # connections, the second lets the addresses in again before anything is dialled.
        lt_session.set_ip_filter(blocking)
        lt_session.set_ip_filter(previous)
        for handle, endpoint in redial:
            try:
                handle.connect_peer(endpoint)
            except RuntimeError:
                continue
        self.reconnected += sum(len(endpoints) for endpoints in stalled.values())
