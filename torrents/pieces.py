"""Streaming reads of torrents still downloading.

A read waits for ``read_piece`` (libtorrent's verified piece, through its disk buffer), not for
the file on disk; the deadlines that fetch its pieces first are ``torrents.deadlines``' (one
ordered list of claims per torrent). The why of each rule is in docs/engine.md.
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

from torrents.deadlines import Claim, Deadlines, Futures
from torrents.engine_types import (
    STREAM_PRIORITY,
    EngineError,
    StreamTimeout,
    handle_gone,
    key_of,
)
from torrents.session import Session

log = logging.getLogger(__name__)

# How often a waiting read re-arms its deadlines (a priority change or a re-check can drop them).
REARM_SECONDS = 1.0

Spans = list[tuple[int, int, int]]


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
        self.deadlines = Deadlines(session)
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
        head = _pieces(ti, file_index, 0, min(size, max(head_bytes, 1)))
        tail_start = max(0, size - max(tail_bytes, 1))
        tail = [p for p in _pieces(ti, file_index, tail_start, size - tail_start) if p not in head]
        self.deadlines.prefetch(info_hash, [head, tail], (file_index, head_bytes, tail_bytes))

    def rearrange(self, info_hash: str) -> None:
        """Arrange the torrent's deadlines again (its peers changed: ``Deadlines.arrange``)."""
        self.deadlines.arrange(info_hash)

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
            self.deadlines.forget(info_hash)
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
            self.deadlines.clear()
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
                wanted = self.deadlines.wants(*key)
                if not wanted:
                    self._waiters.pop(key, None)
            if wanted:
                self.deadlines.arrange(key[0])
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
        """A piece arrived (see ``Deadlines.piece_done``)."""
        self.deadlines.piece_done(info_hash, piece)

    # ------------------------------------------------------------------ claims

    def _prepare_read(
        self, info_hash: str, handle: Any, file_index: int, offset: int, length: int, urgent: bool
    ) -> tuple[Spans, Futures, Claim | None]:
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
                claim = Claim(missing, futures, urgent)
                self.deadlines.add(info_hash, claim)
        if claim is not None:
            self.deadlines.arrange(info_hash)
        return spans, futures, claim

    def _release(self, info_hash: str, claim: Claim | None) -> None:
        """A read is over (done, timed out or cancelled): what it alone wanted loses its
        deadline, and whatever it kept waiting gets one."""
        if claim is None:
            return
        self.deadlines.remove(info_hash, claim)
        try:
            self.deadlines.arrange(info_hash)
        except Exception as exc:  # never mask what ended the read
            if handle_gone(exc):  # removed meanwhile (torrents.races)
                log.debug("the torrent %s went while a read ended", info_hash)
            else:
                log.exception("re-arranging the deadlines of %s", info_hash)

    def _rearm(self, info_hash: str) -> None:
        """Deadlines again for what is still wanted (a priority change or a re-check can drop
        them); an error if the torrent went away meanwhile."""
        if info_hash not in self.session:
            raise EngineError("The torrent was removed.")
        self.deadlines.arrange(info_hash)


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


def _assemble(spans: Iterable[tuple[int, int, int]], futures: Futures) -> bytes:
    return b"".join(futures[piece].result()[start : start + n] for piece, start, n in spans)
