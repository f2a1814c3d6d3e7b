"""The live socket ``/ws/live/``: the wire protocol, through the real ASGI stack.

Sockets are channels test communicators on ``plank.asgi.application`` (origin check, session
auth, routing); the database, channel layer and cache are the configured real ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from plank.asgi import application
from plank.live import hub, outbox
from plank.live import relay as relays
from plank.live.consumers import parse_frame, parse_since
from plank.live.events import close_user_sockets, emit, push
from plank.live.models import Outbox
from plank.live.outbox import prune

from .conftest import ORIGIN, Connect, Person, Socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_cleanup")]

aemit = sync_to_async(
    emit
)  # in the one sync thread, as a view would (its connection is closed after each test)


def invalidate(seq: int, *keys: list[str | int]) -> dict[str, object]:
    return {"type": "invalidate", "seq": seq, "keys": list(keys)}


# --- the handshake ---------------------------------------------------------------------------


async def test_anonymous_is_accepted_then_closed_4401(connect: Connect) -> None:
    socket = await connect(None)
    assert await socket.communicator.receive_output(3) == {"type": "websocket.close", "code": 4401}


async def test_foreign_origin_is_refused_at_the_handshake(connect: Connect, alice: Person) -> None:
    await connect(alice, origin=b"http://evil.example", expect=False)


async def test_missing_origin_header_is_refused(connect: Connect, alice: Person) -> None:
    await connect(alice, origin=None, expect=False)


async def test_hello_says_the_current_seq(connect: Connect, alice: Person) -> None:
    await aemit(("media",))
    last = await aemit(("media", 42))
    socket = await connect(alice)
    assert await socket.receive() == {"type": "hello", "seq": last}
    assert await socket.nothing()


async def test_hello_on_an_empty_outbox_is_zero(connect: Connect, alice: Person) -> None:
    socket = await connect(alice)
    assert await socket.receive() == {"type": "hello", "seq": 0}


# --- events ----------------------------------------------------------------------------------


async def test_an_emit_reaches_the_socket_as_invalidate(connect: Connect, alice: Person) -> None:
    socket = await connect(alice)
    await socket.receive()  # hello
    seq = await aemit(("media", "list", "movie"), ("download", 42))
    assert await socket.receive() == invalidate(seq, ["media", "list", "movie"], ["download", 42])


async def test_a_rolled_back_emit_never_reaches_the_socket(connect: Connect, alice: Person) -> None:
    socket = await connect(alice)
    await socket.receive()

    def change_then_fail() -> None:
        try:
            with transaction.atomic():
                emit(("media", 1))
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass

    await sync_to_async(change_then_fail)()
    assert await socket.nothing(0.5)
    seq = await aemit(("media", 2))
    assert await socket.receive() == invalidate(seq, ["media", 2])


async def test_frames_arrive_in_seq_order(connect: Connect, alice: Person) -> None:
    socket = await connect(alice)
    await socket.receive()

    def burst() -> list[int]:
        return [emit(("media", i)) for i in range(30)]

    seqs = await sync_to_async(burst)()
    got = [(await socket.receive())["seq"] for _ in seqs]
    assert got == seqs


async def test_user_events_reach_only_that_user(
    alice: Person, two_sockets: tuple[Socket, Socket]
) -> None:
    a, b = two_sockets
    private = await aemit(("playback", 7), user_id=alice.user_id)
    public = await aemit(("media",))
    assert await a.receive() == invalidate(private, ["playback", 7])
    assert await a.receive() == invalidate(public, ["media"])
    assert await b.receive() == invalidate(public, ["media"])
    assert await b.nothing()


async def test_push_sends_set_frames(bob: Person, two_sockets: tuple[Socket, Socket]) -> None:
    a, b = two_sockets
    push(("download", 42), {"progress": 0.5, "rate": 1000})
    frame = {"type": "set", "key": ["download", 42], "data": {"progress": 0.5, "rate": 1000}}
    assert await a.receive() == frame
    assert await b.receive() == frame
    # From another thread (the engine's), to one user.
    await sync_to_async(push)(("download", 1), {"eta": 5}, user_id=bob.user_id)
    assert await b.receive() == {"type": "set", "key": ["download", 1], "data": {"eta": 5}}
    assert await a.nothing()


# --- replay ----------------------------------------------------------------------------------


async def test_since_replays_later_rows_in_order_then_hello(
    connect: Connect, alice: Person, bob: Person
) -> None:
    first = await aemit(("media",))
    second = await aemit(("media", 1))
    await aemit(("playback", 3), user_id=bob.user_id)  # not alice's
    mine = await aemit(("playback", 4), user_id=alice.user_id)
    last = await aemit(("download", 9))
    socket = await connect(alice, since=first)
    frames = await socket.receive_until("hello")
    assert frames == [
        invalidate(second, ["media", 1]),
        invalidate(mine, ["playback", 4]),
        invalidate(last, ["download", 9]),
        {"type": "hello", "seq": last},
    ]
    # ...and the socket is live afterwards.
    seq = await aemit(("media",))
    assert await socket.receive() == invalidate(seq, ["media"])


async def test_since_the_current_seq_replays_nothing(connect: Connect, alice: Person) -> None:
    last = await aemit(("media",))
    socket = await connect(alice, since=last)
    assert await socket.receive() == {"type": "hello", "seq": last}


async def test_resync_when_the_rows_after_since_were_pruned(
    connect: Connect, alice: Person
) -> None:
    first = await aemit(("media", 1))
    for i in range(2, 6):
        await aemit(("media", i))
    last = await aemit(("media", 6))
    assert await sync_to_async(prune)(max_rows=2) == 4
    socket = await connect(alice, since=first)
    assert await socket.receive_until("hello") == [
        {"type": "resync"},
        {"type": "hello", "seq": last},
    ]
    # The oldest row still kept is replayable from the seq just before it.
    socket = await connect(alice, since=last - 2)
    frames = await socket.receive_until("hello")
    assert [f["type"] for f in frames] == ["invalidate", "invalidate", "hello"]


async def test_resync_when_since_is_ahead_of_the_outbox(connect: Connect, alice: Person) -> None:
    last = await aemit(("media",))
    socket = await connect(alice, since=last + 100)
    assert await socket.receive_until("hello") == [
        {"type": "resync"},
        {"type": "hello", "seq": last},
    ]


async def test_resync_when_more_rows_than_replay_max(
    connect: Connect, alice: Person, settings
) -> None:
    settings.PLANK_LIVE_REPLAY_MAX = 3
    first = await aemit(("media", 0))
    for i in range(1, 5):
        last = await aemit(("media", i))
    socket = await connect(alice, since=first)
    assert await socket.receive_until("hello") == [
        {"type": "resync"},
        {"type": "hello", "seq": last},
    ]


@pytest.mark.parametrize("since", ["abc", "-1", "1.5", "", "%20", "99999999999999999999999"])
async def test_a_bad_since_is_ignored(connect: Connect, alice: Person, since: str) -> None:
    last = await aemit(("media",))
    socket = await connect(alice, since=since)
    assert await socket.receive() == {"type": "hello", "seq": last}
    assert await socket.nothing(0.2)


def test_parse_since() -> None:
    assert parse_since(b"since=12") == 12
    assert parse_since(b"since=0&x=1") == 0
    assert parse_since(b"") is None
    assert parse_since(b"since=-3") is None
    assert parse_since(b"since=%EF%BC%91") is None  # a full-width digit
    assert parse_since("since=7") == 7


async def test_replay_and_live_frames_neither_lost_nor_duplicated(
    connect: Connect, alice: Person
) -> None:
    """Sockets reconnect with ``since`` while another thread keeps emitting: each socket must
    see every row after its ``since`` exactly once, in order (the replay/live race)."""
    start = await aemit(("media", "start"))
    stop = threading.Event()
    emitted: list[int] = []

    def emitter() -> None:
        try:
            while not stop.is_set():
                emitted.append(emit(("media", len(emitted))))
                time.sleep(0.002)
        finally:
            connection.close()

    thread = threading.Thread(target=emitter)
    thread.start()
    sockets = []
    try:
        for _ in range(8):
            sockets.append(await connect(alice, since=start))
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.to_thread(thread.join)
    final = emitted[-1]
    for socket in sockets:
        seqs = []
        hello = None
        while hello is None or not seqs or seqs[-1] != final:
            frame = await socket.receive()
            if frame["type"] == "hello":
                hello = frame["seq"]
            else:
                assert frame["type"] == "invalidate"
                seqs.append(frame["seq"])
        assert hello is not None
        assert seqs == emitted, "every row after since, once, in order"
        assert await socket.nothing(0.05)


# --- what clients send -----------------------------------------------------------------------


async def test_ping_pong(connect: Connect, alice: Person) -> None:
    socket = await connect(alice)
    await socket.receive()
    assert await socket.ping()
    assert await socket.ping()


@pytest.mark.parametrize(
    "junk",
    [
        "not json",
        "{",
        '"a string"',
        "[1, 2]",
        "null",
        '{"type": "subscribe"}',
        '{"no": "type"}',
        " ",
        '{"type": 1}',
        '{"type": ["ping"]}',
        "[" * 2000 + "]" * 2000,  # deeper than json.loads can recurse
        '{"a":' * 600 + "1" + "}" * 600,
    ],
)
async def test_junk_text_is_ignored(connect: Connect, alice: Person, junk: str) -> None:
    socket = await connect(alice)
    await socket.receive()
    await socket.communicator.send_to(text_data=junk)
    assert await socket.nothing(0.2)
    assert await socket.ping(), "the socket stays open and answers"


async def test_a_frame_over_4kb_closes_4009(two_sockets: tuple[Socket, Socket]) -> None:
    socket, other = two_sockets
    await socket.send({"type": "ping", "pad": "x" * 4096})
    assert await socket.communicator.receive_output(3) == {"type": "websocket.close", "code": 4009}
    seq = await aemit(("media",))
    assert await other.receive() == invalidate(seq, ["media"])
    assert await other.ping()
    assert await socket.nothing(0.2)


async def test_exactly_4kb_is_fine(connect: Connect, alice: Person) -> None:
    socket = await connect(alice)
    await socket.receive()
    text = json.dumps({"type": "ping", "pad": ""})
    text = json.dumps({"type": "ping", "pad": "x" * (4096 - len(text))})
    assert len(text.encode()) == 4096
    await socket.communicator.send_to(text_data=text)
    assert await socket.receive() == {"type": "pong"}


async def test_multibyte_text_over_4kb_closes_4009(connect: Connect, alice: Person) -> None:
    socket = await connect(alice)
    await socket.receive()
    await socket.communicator.send_to(
        text_data=json.dumps({"type": "ping", "pad": "é" * 2100}, ensure_ascii=False)
    )
    assert await socket.communicator.receive_output(3) == {"type": "websocket.close", "code": 4009}


async def test_a_binary_frame_closes_4003(two_sockets: tuple[Socket, Socket]) -> None:
    socket, other = two_sockets
    await socket.communicator.send_to(bytes_data=b'{"type": "ping"}')
    assert await socket.communicator.receive_output(3) == {"type": "websocket.close", "code": 4003}
    assert await other.ping()
    push(("download", 1), {"progress": 1})
    assert (await other.receive())["type"] == "set"


async def test_a_closed_socket_leaves_the_relay(two_sockets: tuple[Socket, Socket]) -> None:
    a, b = two_sockets
    relay = relays.relay_for_loop()
    assert relay.socket_count == 2
    await a.close()
    await asyncio.sleep(0.05)
    assert relay.socket_count == 1
    seq = await aemit(("media",))
    assert await b.receive() == invalidate(seq, ["media"])


async def test_one_relay_per_loop(connect: Connect, alice: Person) -> None:
    sockets = [await connect(alice) for _ in range(3)]
    for socket in sockets:
        await socket.receive()
    loop = asyncio.get_running_loop()
    mine = [r for r in hub.relays() if r.loop is loop]
    assert len(mine) == 1
    assert mine[0].socket_count == 3


async def test_an_idle_socket_survives_the_channel_layer(connect: Connect, alice: Person) -> None:
    """A socket with nothing to say for longer than the layer's blocking read stays open.

    (channels_redis blocks 5 s in BZPOPMIN; redis-py 8 also defaults to a 5 s socket timeout,
    so without a longer ``socket_timeout`` in the layer's hosts the read fails and the socket
    dies with 1011 after ~5 s of quiet.)"""
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        pytest.skip("only a shared (Redis) channel layer blocks on a server")
    socket = await connect(alice)
    await socket.receive()
    assert await socket.nothing(7.0)
    assert await socket.ping()
    push(("download", 1), {"progress": 1})
    assert (await socket.receive())["type"] == "set"


async def test_outbox_rows_are_stored(alice: Person) -> None:
    seq = await aemit(("media", 5), user_id=alice.user_id)
    row = await Outbox.objects.aget(seq=seq)
    assert row.keys == [["media", 5]]
    assert row.user_id == alice.user_id


async def test_logging_out_closes_that_users_sockets_only(
    two_sockets: tuple[Socket, Socket], alice: Person
) -> None:
    socket, other = two_sockets
    user = await sync_to_async(get_user_model().objects.get)(pk=alice.user_id)
    close_user_sockets(user=user)
    assert await socket.communicator.receive_output(3) == {"type": "websocket.close", "code": 4401}
    assert await other.ping()


def test_parse_frame_never_raises() -> None:
    assert parse_frame('{"type": "ping"}') == {"type": "ping"}
    assert parse_frame('{"type": "watch", "keys": [["media", "list", "movie"], ["media", 4]]}')
    assert parse_frame('{"text": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') == {"text": "[" * 32}
    for junk in ["", "{", "[" * 2000 + "]" * 2000, "[" * 100000, '"\\', "nan", "\ud800"]:
        assert parse_frame(junk) is None


async def test_an_empty_text_frame_is_ignored(connect: Connect, alice: Person) -> None:
    socket = await connect(alice)
    await socket.receive()
    await socket.communicator.send_input({"type": "websocket.receive", "text": ""})
    assert await socket.nothing(0.2)
    assert await socket.ping()


async def test_an_unreadable_outbox_closes_4500(
    connect: Connect, alice: Person, monkeypatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database is down")

    first = await aemit(("media",))
    await aemit(("media", 1))
    monkeypatch.setattr(outbox, "replay_plan", broken)
    socket = await connect(alice, since=first)  # owed a replay: the outbox must be read
    assert await socket.communicator.receive_output(3) == {"type": "websocket.close", "code": 4500}


async def test_a_send_to_a_socket_that_went_away_is_a_disconnect(
    alice: Person, live_cleanup: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The server raises on a send once the connection is closing (daphne: autobahn's
    "Attempt to send on a closed protocol"); the socket takes that as a disconnect."""
    inbox: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    frames: list[dict[str, object]] = []
    gone = False

    async def send(message: dict[str, object]) -> None:
        if gone and message["type"] == "websocket.send":
            raise RuntimeError("Attempt to send on a closed protocol")
        frames.append(message)

    scope = {
        "type": "websocket",
        "path": "/ws/live/",
        "query_string": b"",
        "headers": [(b"cookie", alice.cookie), (b"origin", ORIGIN), (b"host", b"127.0.0.1")],
        "subprotocols": [],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await inbox.put({"type": "websocket.connect"})
    app = asyncio.create_task(application(scope, inbox.get, send))
    for _ in range(100):
        if any(f.get("text", "").startswith('{"type":"hello"') for f in frames):  # type: ignore[union-attr]
            break
        await asyncio.sleep(0.02)
    relay = relays.relay_for_loop()
    assert relay.socket_count == 1
    gone = True
    await aemit(("media",))  # the relay's frame
    for _ in range(100):
        if relay.socket_count == 0:
            break
        await asyncio.sleep(0.02)
    assert relay.socket_count == 0, "the socket left the relay"
    push(("download", 1), {"progress": 1})  # a channel-layer frame
    await inbox.put({"type": "websocket.receive", "text": '{"type": "ping"}'})  # a reply
    await asyncio.sleep(0.2)
    assert not app.done(), "no exception escaped a handler"
    await inbox.put({"type": "websocket.disconnect", "code": 1006})
    await asyncio.wait_for(app, 3)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
