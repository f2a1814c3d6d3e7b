"""The live socket, ``/ws/live/``: replay on connect, then the relay's frames and pushed values.

The wire protocol is in ARCHITECTURE.md; how the replay and the live frames meet without loss or
duplicates is in docs/live-layer.md. The consumer overrides only channels' documented hooks:
``connect``, ``receive`` (frame checks before the JSON), ``decode_json``/``encode_json``,
``receive_json``, ``disconnect``, and handlers of its channel-layer messages.
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
from plank.live.events import BROADCAST_GROUP, user_group
from plank.live.outbox import JsonKey

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 4096
MAX_DEPTH = 16  # of a client frame's JSON nesting (the protocol needs 3)
READY_TIMEOUT = 10.0

# Close codes (private-use 4xxx: a server may not send 1003/1009/1011).
CLOSE_UNAUTHENTICATED = 4401  # not logged in: the page stops retrying
CLOSE_UNSUPPORTED_DATA = 4003  # a binary frame: the protocol is JSON text
CLOSE_TOO_BIG = 4009  # a frame over MAX_FRAME_BYTES
CLOSE_SERVER_ERROR = 4500  # the server could not read the outbox: retry later

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
    """One page's socket. The relay hands it outbox rows (:meth:`deliver`); the channel layer
    brings ``live.set`` (pushed values) and ``live.logout``."""

    # Client frame type -> handler; anything else is ignored (a newer page may say more).
    CLIENT_FRAMES: ClassVar[dict[str, str]] = {"ping": "on_ping"}

    user_id: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.relay: relays.Relay | None = None
        self.sent_seq = -1
        self.held: list[tuple[int, list[JsonKey], str]] | None = None  # held while replaying
        self.closed = False

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
        since = parse_since(self.scope.get("query_string", b""))
        await self.accept()

        relay = relays.relay_for_loop()
        try:
            await asyncio.wait_for(relay.ready.wait(), READY_TIMEOUT)
        except TimeoutError:
            await self._fail("the relay did not start")
            return
        # Join the relay and the groups *before* reading the outbox, and hold what the relay
        # hands over meanwhile (docs/live-layer.md, "the replay race").
        self.held = []
        self.relay = relay
        relay.add(self)
        if self.channel_layer is not None:
            for group in (BROADCAST_GROUP, user_group(self.user_id)):
                await self.channel_layer.group_add(group, self.channel_name)
                self.groups.append(group)  # channels leaves them on disconnect

        try:
            high, rows = await database_sync_to_async(outbox.replay_plan)(
                since, self.user_id, int(settings.PLANK_LIVE_REPLAY_MAX)
            )
        except Exception:
            log.exception("could not read the outbox for a connecting socket")
            await self._fail("could not read the outbox")
            return
        if rows is None:
            await self._send_json({"type": "resync"})
        else:
            for seq, keys in rows:
                await self._send_text(relays.invalidate_text(seq, keys))
        await self._send_json({"type": "hello", "seq": high})
        self.sent_seq = high
        # Frames the relay handed over meanwhile; more may arrive while these are sent.
        while self.held:
            seq, keys, text = self.held.pop(0)
            await self._send_row(seq, keys, text)
        self.held = None

    # --- from the relay and the channel layer ----------------------------------------------

    async def deliver(self, seq: int, keys: list[JsonKey], text: str) -> None:
        """From the relay: one outbox row for this socket, with its frame's text."""
        if self.closed:
            return
        if self.held is not None:
            self.held.append((seq, keys, text))
            return
        await self._send_row(seq, keys, text)

    async def _send_row(self, seq: int, keys: list[JsonKey], text: str) -> None:
        if seq <= self.sent_seq:
            return  # replayed already
        self.sent_seq = seq
        await self._send_text(text)

    async def live_set(self, event: dict[str, Any]) -> None:
        """A pushed value (``plank.live.events.push``)."""
        await self._send_json(event["frame"])

    async def live_logout(self, event: dict[str, Any]) -> None:
        """This user logged out (in some tab): the socket ends."""
        await self._close(CLOSE_UNAUTHENTICATED)

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
        await self._send_json({"type": "pong"})

    # --- sending and closing ---------------------------------------------------------------

    async def _send_text(self, text: str) -> None:
        if self.closed:
            return
        try:
            await self.send(text_data=text)
        except (RuntimeError, OSError):
            self._gone()

    async def _send_json(self, content: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            await self.send_json(content)
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
        if self.relay is not None:
            self.relay.discard(self)
            self.relay = None

    async def disconnect(self, code: int) -> None:
        self._leave()
