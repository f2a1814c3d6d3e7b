"""The piece deadlines that serve streaming reads: one ordered list of claims per torrent.

Urgent reads (a new position) first and alone, then the other reads, then the streaming prefetch
(a file's head, then its tail). A torrent with a peer that drops cancelled requests
(``Session.keeps_requests``, see ``torrents.stalls``) gets no deadlines at all: its wanted pieces
are raised to the top priority instead, which libtorrent's picker serves first without
cancelling anything. The why of each rule is in docs/engine.md; ``torrents.pieces`` (the reads)
is the only caller.
"""

from __future__ import annotations

import concurrent.futures
import logging
from typing import Any

import libtorrent as lt

from torrents.engine_types import TOP_PRIORITY
from torrents.session import Session

log = logging.getLogger(__name__)

# Deadlines given to the pieces wanted for streaming, in milliseconds: the first piece is due
# now, each next one a little later, so libtorrent fetches them in the order they are wanted.
DEADLINE_FIRST_MS = 0
DEADLINE_STEP_MS = 40

Futures = dict[int, concurrent.futures.Future[bytes]]


class Claim:
    """Pieces a read waits for, in reading order; a piece whose future is done is no longer
    wanted. ``urgent``: a new position (a request's first bytes, a seek), served before anything
    else; the reads that continue a response are not."""

    __slots__ = ("futures", "pieces", "urgent")

    def __init__(self, pieces: list[int], futures: Futures, urgent: bool) -> None:
        self.pieces = pieces
        self.futures = futures
        self.urgent = urgent

    def pending(self) -> list[int]:
        return [p for p in self.pieces if not self.futures[p].done()]


class Deadlines:
    """What each torrent's reads and prefetch want, and the deadlines given for it. Shares the
    session's lock; ``piece_done`` is called from the alert thread."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.lock = session.lock
        # Per torrent: the reads' claims (urgent ones first), the prefetch stages still to come
        # (head, then tail), what prefetch was asked for, the pieces armed (piece -> a read
        # waits for its bytes), and the torrents armed by priority rather than by deadline.
        self._claims: dict[str, list[Claim]] = {}
        self._prefetch: dict[str, list[list[int]]] = {}
        self._prefetch_asked: dict[str, tuple[int, int, int]] = {}
        self._armed: dict[str, dict[int, bool]] = {}
        self._by_priority: set[str] = set()

    # ------------------------------------------------------------------ what is wanted

    def prefetch(
        self, info_hash: str, stages: list[list[int]], asked: tuple[int, int, int]
    ) -> None:
        """Fetch ``stages`` one after the other, while no read waits (once per ``asked``)."""
        with self.lock:
            if self._prefetch_asked.get(info_hash) == asked:
                return  # every request of a stream asks again; once is enough
            self._prefetch_asked[info_hash] = asked
            self._prefetch[info_hash] = [stage for stage in stages if stage]
        self.arrange(info_hash)

    def add(self, info_hash: str, claim: Claim) -> None:
        """A read's claim (called under the lock that registered its waiters)."""
        with self.lock:
            claims = self._claims.setdefault(info_hash, [])
            if claim.urgent:
                claims.insert(0, claim)
            else:
                claims.append(claim)

    def remove(self, info_hash: str, claim: Claim) -> None:
        with self.lock:
            claims = self._claims.get(info_hash, [])
            for i, other in enumerate(claims):
                if other is claim:
                    del claims[i]
                    break
            if not claims:
                self._claims.pop(info_hash, None)

    def wants(self, info_hash: str, piece: int) -> bool:
        """Whether a read still waits for ``piece``."""
        with self.lock:
            return any(piece in c.pending() for c in self._claims.get(info_hash, []))

    def piece_done(self, info_hash: str, piece: int) -> None:
        """A piece arrived: a read armed by priority gets its bytes read; once every prefetch
        piece armed is here, the next stage is armed."""
        with self.lock:
            armed = self._armed.get(info_hash)
            if not armed or piece not in armed:
                return
            if armed.pop(piece) and info_hash in self._by_priority:
                handle = self.session.handle_or_none(info_hash)
                if handle is not None:
                    handle.read_piece(piece)  # what a deadline's alert_when_available does
            if armed or not self._prefetch.get(info_hash):
                return
            if any(c.urgent and c.pending() for c in self._claims.get(info_hash, [])):
                return  # the urgent read re-arranges when it ends
        self.arrange(info_hash)

    def forget(self, info_hash: str) -> None:
        with self.lock:
            for state in (self._claims, self._prefetch, self._prefetch_asked, self._armed):
                state.pop(info_hash, None)
            self._by_priority.discard(info_hash)

    def clear(self) -> None:
        with self.lock:
            for state in (self._claims, self._prefetch, self._prefetch_asked, self._armed):
                state.clear()
            self._by_priority.clear()

    # ------------------------------------------------------------------ the deadlines

    def arrange(self, info_hash: str) -> None:
        """Give deadlines to the pieces wanted now, in the order they are wanted, and take them
        from pieces nothing wants any more.

        The order: the pieces of urgent claims (newest first) and, while any of those waits,
        nothing else; otherwise every claim's pieces (oldest first), then the current prefetch
        stage. The first piece is due now, the next ones ``DEADLINE_STEP_MS`` apart; all are
        set again each time, so the order holds whatever was set before. Stale deadlines are
        reset first, so that when only the new pieces remain libtorrent cancels the bulk
        requests queued at the peers rather than serving them first.

        Unless a peer of the torrent drops cancelled requests (``Session.keeps_requests``): then
        a deadline set while none is pending would make libtorrent cancel, and that peer would
        stall. The wanted pieces get the top priority instead (the picker, sequential or not,
        takes top-priority pieces first), a read's piece is read when it arrives
        (``piece_done``), and a seek waits for the requests already queued to drain.
        """
        with self.lock:
            handle = self.session.handle_or_none(info_hash)
            if handle is None:
                return
            wanted = self._wanted(info_hash, handle)
            armed = self._armed.get(info_hash, {})
            by_priority = info_hash in self.session.keeps_requests
            switched = by_priority != (info_hash in self._by_priority)
            self._reset(info_hash, handle, [p for p in armed if p not in wanted or switched])
            for rank, (piece, read) in enumerate(wanted.items()):
                if by_priority:
                    handle.piece_priority(piece, TOP_PRIORITY)
                    if read and handle.have_piece(piece):
                        handle.read_piece(piece)
                    continue
                # A file picked a moment ago may not have reached the piece picker yet (priorities
                # are applied asynchronously); a deadline on a priority-0 piece would be ignored.
                if handle.piece_priority(piece) == 0:
                    handle.piece_priority(piece, TOP_PRIORITY)
                flags = lt.torrent_handle.alert_when_available if read else 0
                handle.set_piece_deadline(piece, DEADLINE_FIRST_MS + rank * DEADLINE_STEP_MS, flags)
            if by_priority:
                self._by_priority.add(info_hash)
            else:
                self._by_priority.discard(info_hash)
            if wanted:
                self._armed[info_hash] = wanted
            else:
                self._armed.pop(info_hash, None)

    def _reset(self, info_hash: str, handle: Any, pieces: list[int]) -> None:
        """Take the deadlines of ``pieces`` back, and give them their files' priority again."""
        if not pieces:
            return
        ti = handle.torrent_file()
        levels = self.session.file_priorities(info_hash)
        for piece in pieces:
            handle.reset_piece_deadline(piece)
            if ti is not None:  # the reset left it at priority 1
                handle.piece_priority(piece, _piece_level(ti, piece, levels))

    def _wanted(self, info_hash: str, handle: Any) -> dict[int, bool]:
        """The pieces wanted now, in order: piece -> a read waits for its bytes. Drops the
        prefetch stages already here. Called under the lock."""
        claims = self._claims.get(info_hash, [])
        urgent = [c for c in claims if c.urgent and c.pending()]
        wanted: dict[int, bool] = {}
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
        return wanted


def _piece_level(ti: Any, piece: int, file_priorities: list[int]) -> int:
    """The priority a piece has from its files (the highest of the files it holds bytes of)."""
    level = 0
    for part in ti.map_block(piece, 0, ti.piece_size(piece)):
        index = int(part.file_index)
        if index < len(file_priorities):
            level = max(level, int(file_priorities[index]))
    return level
