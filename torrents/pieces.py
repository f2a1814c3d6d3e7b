"""Streaming reads of torrents still downloading, and the piece deadlines that serve them.

A read waits for ``read_piece`` (libtorrent's verified piece, through its disk buffer), not for
the file on disk. Deadlines come from one ordered list of claims per torrent: urgent reads (a new
position) first and alone, then the other reads, then the streaming prefetch (a file's head, then
its tail). The why of each rule is in docs/engine.md.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import libtorrent as lt

from torrents.engine_types import STREAM_PRIORITY, TOP_PRIORITY, EngineError, StreamTimeout, key_of
from torrents.session import Session

log = logging.getLogger(__name__)

# Deadlines given to the pieces wanted for streaming, in milliseconds: the first piece is due
# now, each next one a little later, so libtorrent fetches them in the order they are wanted.
DEADLINE_FIRST_MS = 0
DEADLINE_STEP_MS = 40
# How often a waiting read re-arms its deadlines (a priority change or a re-check can drop them).
REARM_SECONDS = 1.0

Futures = dict[int, concurrent.futures.Future[bytes]]
Spans = list[tuple[int, int, int]]


class _Claim:
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


class PieceCache:
    """The pieces read lately, least recently used first, within ``max_bytes``. Not locked:
    its owner holds the session lock."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pieces: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._size = 0

    def get(self, key: tuple[str, int]) -> bytes | None:
        data = self._pieces.get(key)
        if data is not None:
            self._pieces.move_to_end(key)
        return data

    def put(self, key: tuple[str, int], data: bytes) -> None:
        if key in self._pieces or len(data) > self.max_bytes:
            return
        self._pieces[key] = data
        self._size += len(data)
        while self._size > self.max_bytes:
            _, old = self._pieces.popitem(last=False)
            self._size -= len(old)

    def drop(self, info_hash: str) -> None:
        for key in [k for k in self._pieces if k[0] == info_hash]:
            self._size -= len(self._pieces.pop(key))

    def clear(self) -> None:
        self._pieces.clear()
        self._size = 0


class StreamingReads:
    """Reads of byte ranges of a session's torrents, and the deadlines that fetch them first.

    Every method may be called from any thread; ``on_read_piece`` and ``piece_done`` are called
    from the alert thread."""

    def __init__(self, session: Session, cache_bytes: int) -> None:
        self.session = session
        self.lock = session.lock
        self._waiters: dict[tuple[str, int], concurrent.futures.Future[bytes]] = {}
        # Per torrent (see _arrange): the reads' claims (urgent ones first), the prefetch stages
        # still to come (head, then tail), what prefetch was asked for, and the pieces given a
        # deadline (piece -> armed with alert_when_available).
        self._claims: dict[str, list[_Claim]] = {}
        self._prefetch: dict[str, list[list[int]]] = {}
        self._prefetch_asked: dict[str, tuple[int, int, int]] = {}
        self._armed: dict[str, dict[int, bool]] = {}
        self._cache = PieceCache(cache_bytes)

    # ------------------------------------------------------------------ what callers ask

    def prioritise_for_streaming(
        self, info_hash: str, file_index: int, *, head_bytes: int, tail_bytes: int
    ) -> None:
        """See ``Engine.prioritise_for_streaming``."""
        session = self.session
        handle = session.handle(info_hash)
        ti = session.torrent_info(handle)
        size = ti.layout().file_size(file_index)
        if session.file_priorities(info_hash)[file_index] != STREAM_PRIORITY:
            session.set_file_priorities(info_hash, {file_index: STREAM_PRIORITY})
        handle.set_flags(lt.torrent_flags.sequential_download)
        if size == 0:
            return
        asked = (file_index, head_bytes, tail_bytes)
        head = _pieces(ti, file_index, 0, min(size, max(head_bytes, 1)))
        tail_start = max(0, size - max(tail_bytes, 1))
        tail = [p for p in _pieces(ti, file_index, tail_start, size - tail_start) if p not in head]
        with self.lock:
            if self._prefetch_asked.get(info_hash) == asked:
                return  # every request of a stream asks again; once is enough
            self._prefetch_asked[info_hash] = asked
            self._prefetch[info_hash] = [stage for stage in (head, tail) if stage]
        self._arrange(info_hash)

    def piece_span(self, info_hash: str, file_index: int, offset: int) -> tuple[int, int]:
        """See ``Engine.piece_span``."""
        ti = self.session.torrent_info(self.session.handle(info_hash))
        size = ti.layout().file_size(file_index)
        if not 0 <= offset < size:
            raise EngineError(f"offset {offset} is outside file {file_index} ({size} bytes)")
        where = ti.map_file(file_index, offset, 1)
        start = offset - int(where.start)
        return start, start + ti.piece_size(int(where.piece))

    def have_range(self, info_hash: str, file_index: int, start: int, end: int) -> bool:
        """See ``Engine.have_range``."""
        handle = self.session.handle(info_hash)
        ti = handle.torrent_file()
        if ti is None:
            return False
        end = min(end, ti.layout().file_size(file_index))
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
        timeout: float,
        urgent: bool,
    ) -> bytes:
        """See ``Engine.read``."""
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout
        handle = self.session.handle(info_hash)
        while handle.torrent_file() is None:
            if loop.time() >= until:
                raise StreamTimeout(_timeout_message(self.session, info_hash, timeout, None))
            await asyncio.sleep(0.1)
        spans, futures, claim = self._prepare_read(
            info_hash, handle, file_index, offset, length, urgent
        )
        try:
            pending = {asyncio.wrap_future(f) for f in futures.values() if not f.done()}
            while pending:
                left = until - loop.time()
                if left <= 0:
                    raise StreamTimeout(_timeout_message(self.session, info_hash, timeout, futures))
                # asyncio.wait never cancels what it waits for: the futures are shared by readers.
                _, pending = await asyncio.wait(pending, timeout=min(REARM_SECONDS, left))
                if pending:
                    self._rearm(info_hash)
            return _assemble(spans, futures)
        finally:
            self._release(info_hash, claim)

    def forget(self, info_hash: str) -> None:
        """The torrent is being removed: its reads fail, its state goes."""
        with self.lock:
            self._claims.pop(info_hash, None)
            self._prefetch.pop(info_hash, None)
            self._prefetch_asked.pop(info_hash, None)
            self._armed.pop(info_hash, None)
            for key in [k for k in self._waiters if k[0] == info_hash]:
                future = self._waiters.pop(key)
                if not future.done():
                    future.set_exception(EngineError("The torrent was removed."))
            self._cache.drop(info_hash)

    def close(self) -> None:
        """The engine stops: every read fails, nothing is kept."""
        with self.lock:
            for future in self._waiters.values():
                if not future.done():
                    future.set_exception(EngineError("The engine stopped."))
            self._waiters.clear()
            self._claims.clear()
            self._prefetch.clear()
            self._prefetch_asked.clear()
            self._armed.clear()
            self._cache.clear()

    # ------------------------------------------------------------------ alerts

    def on_read_piece(self, alert: Any) -> None:
        """A ``read_piece_alert``: hand the piece's bytes to the reads waiting for them."""
        key = (key_of(alert.handle.info_hashes()), int(alert.piece))
        error = alert.error.value()
        if error == errno.ECANCELED:
            # Our own reset_piece_deadline: the piece was no longer wanted. A read that wants it
            # again by now keeps its waiter and gets the deadline back; else forget the waiter.
            with self.lock:
                wanted = any(key[1] in c.pending() for c in self._claims.get(key[0], []))
                if not wanted:
                    self._waiters.pop(key, None)
            if wanted:
                self._arrange(key[0])
            return
        with self.lock:
            future = self._waiters.pop(key, None)
            if error:
                if future is not None and not future.done():
                    future.set_exception(EngineError(alert.message()))
                return
            data = bytes(alert.buffer)
            self._cache.put(key, data)
        if future is not None and not future.done():
            future.set_result(data)

    def piece_done(self, info_hash: str, piece: int) -> None:
        """A piece arrived: once every prefetch piece armed is here, arm the next stage."""
        with self.lock:
            armed = self._armed.get(info_hash)
            if not armed or piece not in armed:
                return
            del armed[piece]
            if armed or not self._prefetch.get(info_hash):
                return
            if any(c.urgent and c.pending() for c in self._claims.get(info_hash, [])):
                return  # the urgent read re-arranges when it ends
        self._arrange(info_hash)

    # ------------------------------------------------------------------ claims and deadlines

    def _prepare_read(
        self, info_hash: str, handle: Any, file_index: int, offset: int, length: int, urgent: bool
    ) -> tuple[Spans, Futures, _Claim | None]:
        ti = self.session.torrent_info(handle)
        fs = ti.layout()
        if not 0 <= file_index < fs.num_files():
            raise EngineError(f"torrent {info_hash} has no file {file_index}")
        if self.session.file_priorities(info_hash)[file_index] == 0:
            raise EngineError(f"file {file_index} of torrent {info_hash} is not being downloaded")
        length = max(0, min(length, fs.file_size(file_index) - offset))
        spans = _spans(ti, file_index, offset, length) if length and offset >= 0 else []
        futures: Futures = {}
        missing: list[int] = []
        claim = None
        with self.lock:
            for piece, _, _ in spans:
                if piece in futures:
                    continue
                cached = self._cache.get((info_hash, piece))
                if cached is not None:
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
                # registered with the waiters, under one lock: see on_read_piece
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
        with self.lock:
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
        if info_hash not in self.session:
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
        with self.lock:
            handle = self.session.handle_or_none(info_hash)
            if handle is None:
                return
            wanted = self._wanted(info_hash, handle)
            armed = self._armed.get(info_hash, {})
            stale = [p for p in armed if p not in wanted]
            if stale:
                ti = handle.torrent_file()
                levels = self.session.file_priorities(info_hash)
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


def _timeout_message(
    session: Session, info_hash: str, timeout: float, futures: Futures | None
) -> str:
    """Why a read timed out, for a person: what it waited for, and how many peers there are."""
    try:
        st = session.status(info_hash)
        peers = f"{st.peers} peer{'s' if st.peers != 1 else ''}"
        name = st.name or info_hash
    except EngineError:
        peers, name = "no peers", info_hash
    if futures is None:
        return (
            f"Timed out after {timeout:g}s: the metadata of {name} has not arrived yet ({peers})."
        )
    waiting = sorted(p for p, f in futures.items() if not f.done())
    return (
        f"Timed out after {timeout:g}s waiting for {len(waiting)} of {len(futures)} piece(s) "
        f"of {name} (first missing: {waiting[0] if waiting else '-'}; {peers})."
    )


def _spans(ti: Any, file_index: int, offset: int, length: int) -> Spans:
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


def _assemble(spans: Iterable[tuple[int, int, int]], futures: Futures) -> bytes:
    return b"".join(futures[piece].result()[start : start + n] for piece, start, n in spans)
