"""``watch`` routing: a socket gets only the frames under the keys its page shows.

Through the real ASGI stack (channels communicators on ``plank.asgi.application``), the real
database and relay; plus the index itself (plank/live/watching.py).
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from plank.live.events import emit, push
from plank.live.watching import WatchIndex, related

from .conftest import Connect, Person, Socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_cleanup")]

aemit = sync_to_async(emit)


async def watching(connect: Connect, person: Person, *keys: list, since=None) -> Socket:
    socket = await connect(person, since=since)
    await socket.send({"type": "watch", "keys": list(keys)})
    return socket


async def test_a_socket_that_watches_the_movies_gets_nothing_for_a_download(
    connect: Connect, alice: Person
) -> None:
    socket = await watching(connect, alice, ["media", "list", "movie"], ["media", "counts"])
    assert (await socket.receive())["type"] == "hello"
    await aemit(("download", 7))
    push(("download", 7), {"progress": 0.5})
    assert await socket.nothing(0.6)
    seq = await aemit(("media",))  # names everything under media: the grid too
    assert await socket.receive() == {"type": "invalidate", "seq": seq, "keys": [["media"]]}
    seq = await aemit(("media", "list", "movie", 2))  # under a watched key
    assert (await socket.receive())["seq"] == seq
    await aemit(("media", "list", "tv"))
    assert await socket.nothing()


async def test_a_page_that_shows_the_download_gets_its_values_and_invalidations(
    connect: Connect, alice: Person
) -> None:
    socket = await watching(connect, alice, ["media", "list", "movie"], ["download", 7])
    await socket.receive()  # hello
    push(("download", 7), {"progress": 0.25})
    push(("download", 8), {"progress": 0.5})  # not on this page
    assert await socket.receive() == {
        "type": "set",
        "key": ["download", 7],
        "data": {"progress": 0.25},
    }
    seq = await aemit(("download", 7))
    assert (await socket.receive())["seq"] == seq
    assert await socket.nothing()


async def test_watching_again_replaces_what_the_page_shows(connect: Connect, alice: Person) -> None:
    socket = await watching(connect, alice, ["download", 1])
    await socket.receive()
    await socket.send({"type": "watch", "keys": [["download", 2]]})
    await socket.ping()  # the watch frame has been handled
    await aemit(("download", 1))
    seq = await aemit(("download", 2))
    assert await socket.receive() == {"type": "invalidate", "seq": seq, "keys": [["download", 2]]}


async def test_values_of_one_tick_are_one_frame_per_socket(connect: Connect, alice: Person) -> None:
    socket = await watching(connect, alice, ["download"])  # a downloads page: all of them
    await socket.receive()
    for n in range(5):
        push(("download", 1), {"progress": n / 10})  # only the newest counts
    push(("download", 2), {"progress": 0.9})
    frame = await socket.receive()
    assert frame == {
        "type": "set",
        "values": [
            {"key": ["download", 1], "data": {"progress": 0.4}},
            {"key": ["download", 2], "data": {"progress": 0.9}},
        ],
    }
    assert await socket.nothing(0.5)


async def test_a_socket_without_watch_gets_everything(connect: Connect, alice: Person) -> None:
    socket = await connect(alice)
    await socket.receive()  # hello, after the grace
    seq = await aemit(("download", 7))
    assert (await socket.receive())["seq"] == seq
    push(("download", 7), {"progress": 1.0})
    assert (await socket.receive())["type"] == "set"


async def test_the_replay_after_since_is_filtered_by_watch(connect: Connect, alice: Person) -> None:
    start = await aemit(("media", "start"))
    await aemit(("download", 3))
    wanted = await aemit(("media", "list", "movie"))
    await aemit(("download", 4))
    last = await aemit(("tmdb", "trending"))
    socket = await watching(connect, alice, ["media", "list", "movie"], since=start)
    assert await socket.receive_until("hello") == [
        {"type": "invalidate", "seq": wanted, "keys": [["media", "list", "movie"]]},
        {"type": "hello", "seq": last},
    ]


async def test_a_big_filtered_gap_is_a_resync(connect: Connect, alice: Person, settings) -> None:
    settings.PLANK_LIVE_REPLAY_MAX = 2  # reads at most 10 x 2 rows for a filtered replay
    start = await aemit(("media", "start"))
    for n in range(25):
        last = await aemit(("download", n))
    socket = await watching(connect, alice, ["media"], since=start)
    assert await socket.receive_until("hello") == [
        {"type": "resync"},
        {"type": "hello", "seq": last},
    ]


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "watch", "keys": "media"},
        {"type": "watch", "keys": [["media", ""]]},
        {"type": "watch", "keys": [[True]]},
        {"type": "watch", "keys": [[]]},
        {"type": "watch"},
    ],
)
async def test_a_malformed_watch_changes_nothing(
    connect: Connect, alice: Person, frame: dict
) -> None:
    socket = await watching(connect, alice, ["media"])
    await socket.receive()
    await socket.send(frame)
    assert await socket.ping()  # the socket lives
    seq = await aemit(("media", 1))
    assert (await socket.receive())["seq"] == seq
    await aemit(("download", 1))
    assert await socket.nothing()


# --- the index ---------------------------------------------------------------------------------


def test_related_keys() -> None:
    assert related(("media",), ("media", "list", "movie"))
    assert related(("media", "list", "movie", 3), ("media", "list", "movie"))
    assert related(("download", "7"), ("download", 7))
    assert not related(("media", "list", "tv"), ("media", "list", "movie"))
    assert not related(("download", 7), ("download", 70))


def test_the_index_finds_sockets_above_and_below() -> None:
    index: WatchIndex[str] = WatchIndex()
    for name in ("grid", "downloads", "title", "old"):
        index.add(name)
    index.watch("grid", [("media", "list", "movie"), ("download", 7)])
    index.watch("downloads", [("download",)])
    index.watch("title", [("media", 42)])
    assert index.sockets_for([("media",)]) == {"grid", "title", "old"}
    assert index.sockets_for([("download", 7)]) == {"grid", "downloads", "old"}
    assert index.sockets_for([("download", 8)]) == {"downloads", "old"}
    assert index.sockets_for([("tmdb",)]) == {"old"}
    index.discard("grid")
    index.discard("old")
    assert index.sockets_for([("media", "list")]) == set()
    assert index.sockets_for([("download", 7)]) == {"downloads"}
    assert len(index) == 2


def test_the_index_refuses_too_many_keys() -> None:
    index: WatchIndex[str] = WatchIndex()
    index.add("page")
    with pytest.raises(ValueError):
        index.watch("page", [("download", n) for n in range(501)])
    assert index.watched("page") is None  # what it had is kept
