"""The live socket, ``/ws/live/``: replay on connect, then the relay's frames and pushed values.

The wire protocol is in ARCHITECTURE.md; how the replay and the live frames meet without loss or
duplicates, and how ``watch`` routes frames, is in docs/live-layer.md. The consumer overrides
only channels' documented hooks: ``connect``, ``receive`` (frame checks before the JSON),
``decode_json``/``encode_json``, ``receive_json`` and ``disconnect``. It uses no channel layer
of its own: the relay brings invalidations, pushed values and logouts, so an idle socket costs
no channel, no group and no handler call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any, ClassVar
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from plank.live import outbox
from plank.live import relay as relays
from plank.live.keys import from_json
from plank.live.outbox import JsonKey
from plank.live.outlet import Outlet, current_transport

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 4096
MAX_DEPTH = 16  # of a client frame's JSON nesting (the protocol needs 3)
READY_TIMEOUT = 10.0

# Close codes (private-use 4xxx: a server may not send 1003/1009/1011).
CLOSE_UNAUTHENTICATED = 4401  # not logged in: the page stops retrying
CLOSE_UNSUPPORTED_DATA = 4003  # a binary frame: the protocol is JSON text
CLOSE_TOO_BIG = 4009  # a frame over MAX_FRAME_BYTES
CLOSE_SERVER_ERROR = 4500  # the server could not read the outbox: retry later
CLOSE_TOO_SLOW = 4429  # the page did not keep up with its frames: it reconnects and resyncs

RESYNC = '{"type":"resync"}'

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def parse_since(query_string: bytes | str) -> int | None:
    """``since`` from the query string: a non-negative integer, or None (absent or junk)."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    values = parse_qs(query_string).get("since")
    if not values:
        return None
    value = values[-1].strip()
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    return int(value)


def parse_frame(text: str) -> Any:
    """A client frame's JSON, or None for junk (never an exception, however deep it nests)."""
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """One page's socket. The relay hands it outbox rows (:meth:`take_row`), the values of each
    tick (:meth:`take_text`) and logouts (:meth:`end`); none of these waits for the client."""

    # No channel layer per socket (an alias that is not configured): see the module docstring.
    channel_layer_alias = "plank-live-sockets-use-no-layer"

    # Client frame type -> handler; anything else is ignored (a newer page may say more).
    CLIENT_FRAMES: ClassVar[dict[str, str]] = {"ping": "on_ping", "watch": "on_watch"}

    user_id: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.relay: relays.Relay | None = None
        self.outlet: Outlet | None = None
        self.since: int | None = None
        self.sent_seq = -1
        # Frames the relay hands over before the hello: ("row", seq, keys, text) / ("text", text)
        self.held: list[tuple[Any, ...]] | None = None
        self.started = False
        self.watching = False
        self.closed = False
        self._grace: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The whole life of the socket. Whatever ends it (the disconnect message, or the
        server cancelling an application that took too long to shut down) it leaves the relay,
        so the count on /system/ stays true."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._leave()

    # --- connecting ------------------------------------------------------------------------

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept, then close: a refused handshake reaches the page as a bare 1006, and the
            # page must know that retrying is pointless until the user logs in.
            await self.accept()
            await self._close(CLOSE_UNAUTHENTICATED)
            return
        self.user_id = int(user.pk)
        self.since = parse_since(self.scope.get("query_string", b""))
        await self.accept()
        self.outlet = Outlet(
            self._write,
            self._behind,
            limit=int(settings.PLANK_LIVE_QUEUE_FRAMES),
            transport=current_transport(),
        )

        relay = relays.relay_for_loop()
        try:
            await asyncio.wait_for(relay.ready.wait(), READY_TIMEOUT)
        except TimeoutError:
            await self._fail("the relay did not start")
            return
        # Join the relay *before* reading the outbox, and hold what it hands over meanwhile
        # (docs/live-layer.md, "the replay race").
        self.held = []
        self.relay = relay
        relay.add(self)
        # A page says what it shows first thing (``watch``), and its replay is filtered by it;
        # a page that says nothing gets its replay after a short grace, unfiltered.
        grace = float(settings.PLANK_LIVE_WATCH_GRACE_SECONDS)
        self._grace = asyncio.get_running_loop().call_later(grace, self._spawn, self._begin)

    async def _begin(self) -> None:
        """Replay what the page missed (under what it watches), say hello, flush the held."""
        if self.started or self.closed or self.relay is None:
            return
        self.started = True
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        relay = self.relay
        wanted = (lambda keys: relay.wants(self, keys)) if self.watching else None
        if self.since is None or self.since == relay.last_seq:
            # Nothing to replay: every row after the relay's position reaches this socket
            # through the relay (it joined already). No database work: most pages connect so.
            high, rows = relay.last_seq, []
        else:
            try:
                high, rows = await database_sync_to_async(outbox.replay_plan)(
                    self.since, self.user_id, int(settings.PLANK_LIVE_REPLAY_MAX), wanted=wanted
                )
            except Exception:
                log.exception("could not read the outbox for a connecting socket")
                await self._fail("could not read the outbox")
                return
        if rows is None:
            await self._write(RESYNC)
        else:
            for seq, keys in rows:
                await self._write(relays.invalidate_text(seq, keys))
        await self._write(await self.encode_json({"type": "hello", "seq": high}))
        self.sent_seq = high
        held, self.held = self.held or [], None
        for item in held:
            if item[0] == "row":
                self.take_row(item[1], item[2], item[3])
            else:
                self.take_text(item[1])

    # --- from the relay (never waits for the client) ---------------------------------------

    def take_row(self, seq: int, keys: list[JsonKey], text: str) -> None:
        """One outbox row for this socket, with its frame's text."""
        if self.closed:
            return
        if self.held is not None:
            self._hold(("row", seq, keys, text))
            return
        if seq <= self.sent_seq:
            return  # replayed already
        if self.relay is not None and self.watching and not self.relay.wants(self, keys):
            return  # held from before the page said what it shows
        self.sent_seq = seq
        self._offer(text)

    def take_text(self, text: str) -> None:
        """A frame that is not an outbox row (the values of one tick)."""
        if self.closed:
            return
        if self.held is not None:
            self._hold(("text", text))
            return
        self._offer(text)

    def end(self, code: int) -> None:
        """Close with ``code`` (this user logged out somewhere)."""
        if not self.closed:
            self._spawn(lambda: self._close(code))

    def _hold(self, item: tuple[Any, ...]) -> None:
        assert self.held is not None
        self.held.append(item)
        if len(self.held) > int(settings.PLANK_LIVE_QUEUE_FRAMES):
            self.held = []
            self._behind()

    def _offer(self, text: str) -> None:
        if self.outlet is not None:
            self.outlet.offer(text)

    def _behind(self) -> None:
        """The page fell behind its frames: it is told to resync and closed (it reconnects)."""
        if self.closed:
            return
        log.info("closing a live socket that fell behind (user %s)", self.user_id)
        self._leave()
        self._spawn(self._resync_and_close)

    async def _resync_and_close(self) -> None:
        await self._write(RESYNC, even_if_closed=True)
        try:
            await self.close(code=CLOSE_TOO_SLOW)
        except (RuntimeError, OSError):
            log.debug("a live socket went away before its close", exc_info=True)

    def _spawn(self, make: Any) -> None:
        task = asyncio.get_running_loop().create_task(make())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- from the client -------------------------------------------------------------------

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        """Check the frame (text, at most 4 KB) before channels decodes it."""
        if self.closed:
            return
        if text_data is None:
            await self._close(CLOSE_UNSUPPORTED_DATA)
            return
        if (
            len(text_data) > MAX_FRAME_BYTES
            or len(text_data.encode("utf-8", "replace")) > MAX_FRAME_BYTES
        ):
            await self._close(CLOSE_TOO_BIG)
            return
        if text_data:
            await super().receive(text_data=text_data, **kwargs)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        return parse_frame(text_data)

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return json.dumps(content, separators=(",", ":"))

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """A decoded client frame; junk (not an object, unknown ``type``) is ignored."""
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        handler = self.CLIENT_FRAMES.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            await getattr(self, handler)(content)

    async def on_ping(self, content: dict[str, Any]) -> None:
        self.take_text('{"type":"pong"}')

    async def on_watch(self, content: dict[str, Any]) -> None:
        """``{"type": "watch", "keys": [[...], ...]}``: the keys the page shows, from now on.

        A malformed list is ignored as a whole (the socket keeps what it watched before)."""
        raw = content.get("keys")
        if self.relay is None or not isinstance(raw, list):
            return
        try:
            self.relay.watch(self, [from_json(key) for key in raw])
        except ValueError:
            return
        self.watching = True
        if not self.started:
            await self._begin()

    # --- sending and closing ---------------------------------------------------------------

    async def _write(self, text: str, *, even_if_closed: bool = False) -> None:
        if self.closed and not even_if_closed:
            return
        try:
            await self.send(text_data=text)
        except (RuntimeError, OSError):
            self._gone()

    def _gone(self) -> None:
        """A send found the connection gone: daphne (autobahn) raises ``Disconnected``, a
        RuntimeError; uvicorn ``ClientDisconnected``, an OSError. The server's disconnect
        message follows; until then the socket takes no more frames."""
        log.debug("a live socket went away during a send", exc_info=True)
        self._leave()

    async def _fail(self, why: str) -> None:
        log.warning("closing a live socket: %s", why)
        await self._close(CLOSE_SERVER_ERROR)

    async def _close(self, code: int) -> None:
        if self.closed:
            return
        self._leave()
        try:
            await self.close(code=code)
        except (RuntimeError, OSError):
            log.debug("a live socket went away before its close", exc_info=True)

    def _leave(self) -> None:
        self.closed = True
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if self.outlet is not None:
            self.outlet.close()
        if self.relay is not None:
            self.relay.discard(self)
            self.relay = None

    async def disconnect(self, code: int) -> None:
        self._leave()
