"""Against the BitTorrent clients real swarms are made of: Debian's ``transmission-daemon`` 3.00
and ``aria2c`` 1.36 (``.ci/run`` installs them), over 127.0.0.1.

Plank downloads from each one through the app (the engine part in this process, the stream view
through Django's test client), streams while it downloads with seeks at several points — each
answered quickly, the bytes exact — and completes. Transmission 3.00 drops cancelled requests
without the reject the fast extension promises (transmission/transmission#511): before
``torrents.stalls`` one seek froze the download for about five minutes.

Then the other way: Plank seeds a finished download to a third-party client when the seeding
policy allows it (a seed ratio), and not when it stops at completion. Those clients find Plank
through a small BEP 3 tracker (``tests/torrents/third_party.py``); Plank reaches a seeder through
the magnet's ``x.pe``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test import Client

from media.models import Title
from plank.models import get_preferences
from tests.conftest import body
from tests.factories import make_user
from tests.torrents.conftest import MadeTorrent, offline_engine, random_bytes, sha1, wait_for
from tests.torrents.third_party import ARIA2C, TRANSMISSION, Aria2, Tracker, Transmission
from tests.torrents.third_party import torrent_file as dot_torrent
from torrents import engine as engine_module
from torrents.engine_part import EnginePart
from torrents.models import Download

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_reads"),
    pytest.mark.slow,
    pytest.mark.timeout(240),
]

MB = 1_000_000
SIZE = 8 * MB
RATE_KBPS = 1000  # the third-party seeder's upload cap, kB/s (about 8 s for the whole file)
SEEK_GOAL = 5.0  # seconds
# Seeks while it downloads: fractions of the file, forward and back.
SEEKS = (0.55, 0.25, 0.85, 0.40)

# Every peer here is 127.0.0.1: libtorrent's peer list keys peers by address unless told
# otherwise (a leecher would replace the departed seeder's entry, marked a seed, and never be
# dialled), and it re-announces at most every 5 minutes by default (Transmission never dials a
# loopback address, so Plank must learn the leecher from its own next announce).
SAME_HOST = {"allow_multiple_connections_per_ip": True, "min_announce_interval": 3}

needs_transmission = pytest.mark.skipif(TRANSMISSION is None, reason="transmission-daemon")
needs_aria2 = pytest.mark.skipif(ARIA2C is None, reason="aria2c")


@pytest.fixture
def start_app(settings, data_dir: Path) -> Iterator[Callable[..., EnginePart]]:
    """``start_app(seed_ratio=None)``: the engine part of a ``serve`` process on a temporary data
    dir (no job worker: filing into the library is not what these tests look at)."""
    settings.RESUME_DIR = data_dir / "resume"
    settings.PLANK_STREAM_TIMEOUT = 20.0
    started: list[EnginePart] = []

    def start(seed_ratio: float | None = None) -> EnginePart:
        # The household's settings as this engine has them: a preferences row saved later
        # (created on first read) would re-apply its own to the running engine.
        prefs = get_preferences()
        prefs.dht = prefs.lsd = prefs.port_mapping = False
        prefs.seed_ratio = seed_ratio
        prefs.save()
        part = EnginePart(
            offline_engine(settings.RESUME_DIR, seed_ratio=seed_ratio, settings=SAME_HOST),
            poll_interval=0.2,
            metadata_timeout=60,
            save_interval=0.5,
            min_video_size=100_000,
        )
        part.start()
        started.append(part)
        return part

    yield start
    for part in started:
        part.stop()
    assert engine_module.current() is None


@pytest.fixture
def client(db) -> Client:
    client = Client()
    client.force_login(make_user("member", username="anna"))
    return client


@pytest.fixture
def tracker() -> Iterator[Tracker]:
    found = Tracker()
    yield found
    found.stop()


@pytest.fixture
def stoppable() -> Iterator[Callable[[object], object]]:
    """Register a third-party client to stop at teardown (``stoppable(client)``)."""
    started: list = []

    def keep(client):
        started.append(client)
        return client

    yield keep
    for client in reversed(started):
        client.stop()


def add(client: Client, magnet: str) -> Title:
    response = client.post("/media/add", {"magnet": magnet, "type": "movie"})
    assert response.status_code == 302, response.content[:500]
    return Title.objects.get(info_hash=engine_module.magnet_info_hash(magnet))


def stream_while_downloading(
    client: Client, part: EnginePart, title: Title, torrent: MadeTorrent
) -> list[tuple[float, float, float]]:
    """Seek to each of ``SEEKS`` through the stream view while the torrent downloads; per seek
    (where, seconds to the bytes, progress then)."""
    data = next(iter(torrent.files.values()))
    stream = f"/media/{title.pk}/stream"
    wait_for(lambda: title.files.exists(), 60, "the vetted file")
    first = client.get(stream, HTTP_RANGE="bytes=0-65535")
    assert first.status_code == 206 and body(first) == data[:65536]
    answered = []
    for where in SEEKS:
        offset = int(len(data) * where) // 4096 * 4096
        asked = time.monotonic()
        response = client.get(stream, HTTP_RANGE=f"bytes={offset}-{offset + 65535}")
        assert response.status_code == 206, response.status_code
        assert body(response) == data[offset : offset + 65536], f"wrong bytes at {offset}"
        seconds = time.monotonic() - asked
        answered.append((where, seconds, part.engine.status(torrent.info_hash).progress))
    return answered


def check_seeks(answered: list[tuple[float, float, float]]) -> None:
    assert answered[-1][2] < 1, "the download finished before the last seek: it proved nothing"
    slow = [(where, round(s, 2)) for where, s, _ in answered if s > SEEK_GOAL]
    assert slow == [], f"seeks slower than {SEEK_GOAL:g}s: {slow}"


def wait_complete(title: Title, torrent: MadeTorrent, part: EnginePart, timeout: float) -> float:
    started = time.monotonic()
    wait_for(
        lambda: Download.objects.get(title=title).state in ("complete", "seeding"),
        timeout,
        "the download to complete",
        interval=0.2,
    )
    download = Download.objects.get(title=title)
    ((path, data),) = torrent.files.items()
    assert sha1((Path(download.save_path) / path).read_bytes()) == sha1(data)
    return time.monotonic() - started


# --------------------------------------------------------------------------- downloading


@needs_transmission
def test_from_transmission_stream_with_seeks_then_complete(
    start_app, client: Client, make_torrent, stoppable, tmp_path: Path
) -> None:
    torrent = make_torrent({"Open.Water.2003/Open.Water.2003.mkv": random_bytes(SIZE)})
    seeder = stoppable(Transmission(tmp_path / "transmission", upload_kbps=RATE_KBPS))
    seeder.seed(dot_torrent(torrent.info), torrent.root)
    part = start_app()

    title = add(client, torrent.magnet(seeder.peer_port))
    answered = stream_while_downloading(client, part, title, torrent)
    check_seeks(answered)
    # Transmission unchokes a new peer only every ten seconds: the rest takes about 8 s at its
    # cap, and without the guard it took minutes.
    wait_complete(title, torrent, part, timeout=60)
    print(
        "\ntransmission 3.00: seeks answered in "
        + ", ".join(f"{s:.2f}s at {where:.0%}" for where, s, _ in answered)
    )


@needs_aria2
def test_from_aria2_stream_with_seeks_then_complete(
    start_app, client: Client, make_torrent, stoppable, tmp_path: Path
) -> None:
    torrent = make_torrent({"Dry.Land.2011/Dry.Land.2011.mkv": random_bytes(SIZE)})
    seeder = stoppable(
        Aria2(tmp_path / "aria2", dot_torrent(torrent.info), torrent.root, upload_limit="1M")
    )
    part = start_app()

    title = add(client, torrent.magnet(seeder.peer_port))
    answered = stream_while_downloading(client, part, title, torrent)
    check_seeks(answered)
    wait_complete(title, torrent, part, timeout=60)
    print("\naria2c: seeks answered in " + ", ".join(f"{s:.2f}s" for _, s, _ in answered))


# --------------------------------------------------------------------------- seeding back


def finished_in_plank(
    start_app, client: Client, torrent: MadeTorrent, seeder, tracker: Tracker, seed_ratio
) -> tuple[EnginePart, Title]:
    """Plank downloads ``torrent`` from a libtorrent seeder, which then leaves: Plank is the only
    copy left. Its magnet names the tracker, so Plank announces there."""
    seed, magnet = seeder(torrent)
    part = start_app(seed_ratio=seed_ratio)
    title = add(client, f"{magnet}&tr={tracker.url}")
    wait_complete(title, torrent, part, timeout=60)
    seed.close()
    return part, title


@needs_transmission
@pytest.mark.parametrize("leecher", ["transmission", "aria2"])
def test_seeds_back_to_a_third_party_client_when_the_policy_allows(
    start_app, client, make_torrent, seeder, tracker, stoppable, tmp_path: Path, leecher: str
) -> None:
    if leecher == "aria2" and ARIA2C is None:
        pytest.skip("aria2c")
    data = random_bytes(3 * MB)
    torrent = make_torrent({"Far.Shore.1999/Far.Shore.1999.mkv": data})
    part, title = finished_in_plank(start_app, client, torrent, seeder, tracker, seed_ratio=5.0)
    assert Download.objects.get(title=title).state == "seeding"

    meta = dot_torrent(torrent.info, tracker)
    got = tmp_path / "leecher"
    got.mkdir()
    target = got / "Far.Shore.1999" / "Far.Shore.1999.mkv"
    if leecher == "transmission":
        peer = stoppable(Transmission(tmp_path / "t-home"))
        torrent_id = peer.add(meta, got)
        wait_for(lambda: peer.torrent(torrent_id).get("percentDone") == 1, 60, "transmission")
    else:
        peer = stoppable(Aria2(tmp_path / "a-home", meta, got))
        wait_for(lambda: target.exists() and sha1(target.read_bytes()) == sha1(data), 60, "aria2")
    assert sha1(target.read_bytes()) == sha1(data)
    # ... and every byte came from Plank (its counters are updated once a second)
    wait_for(
        lambda: part.engine.status(torrent.info_hash).all_time_upload >= len(data),
        5,
        "Plank's upload counter",
    )


@needs_aria2
def test_does_not_seed_when_the_policy_stops_at_completion(
    start_app, client, make_torrent, seeder, tracker, stoppable, tmp_path: Path
) -> None:
    data = random_bytes(2 * MB)
    torrent = make_torrent({"Last.Stop.2005/Last.Stop.2005.mkv": data})
    part, title = finished_in_plank(start_app, client, torrent, seeder, tracker, seed_ratio=None)
    assert Download.objects.get(title=title).state == "complete"

    got = tmp_path / "leecher"
    got.mkdir()
    peer = stoppable(Aria2(tmp_path / "a-home", dot_torrent(torrent.info, tracker), got))
    time.sleep(12)  # two announces of the leecher: long enough to have found Plank if it seeded
    assert peer.process.poll() is None
    assert part.engine.status(torrent.info_hash).all_time_upload == 0
    target = got / "Last.Stop.2005" / "Last.Stop.2005.mkv"
    assert not target.exists() or sha1(target.read_bytes()) != sha1(data)
