from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

import libtorrent as lt
import pytest

from media.downloading import PieceReader
from tests.live.live_server import free_port
from tests.torrents.conftest import SEEDER, random_bytes, sha1, wait_for
from torrents.engine import (
    STREAM_PRIORITY,
    Engine,
    EngineError,
    StreamTimeout,
    TorrentFile,
    magnet_info_hash,
)
from torrents.pieces import PieceCache

MiB = 1024 * 1024


def test_magnet_to_complete_download_with_exact_bytes(
    make_torrent, seeder, engine, tmp_path: Path
) -> None:
    torrent = make_torrent(
        {
            "Movie/movie.mkv": random_bytes(3 * MiB + 12345),
            "Movie/movie.en.srt": b"1\n00:00:01,000 --> 00:00:02,000\nHello\n",
        }
    )
    _, magnet = seeder(torrent)
    metadata, finished = threading.Event(), threading.Event()
    engine.on_metadata.append(lambda ih: metadata.set())
    engine.on_finished.append(lambda ih: finished.set())

    started = time.monotonic()
    info_hash = engine.add_magnet(magnet, tmp_path / "dl")
    assert info_hash == torrent.info_hash == magnet_info_hash(magnet)
    assert metadata.wait(15), "no metadata"
    metadata_seconds = time.monotonic() - started

    files = engine.files(info_hash)
    layout = torrent.info.layout()
    assert files == [
        TorrentFile(i, layout.file_path(i), len(torrent.files[layout.file_path(i)]))
        for i in range(2)
    ]
    assert {f.path: f.size for f in files} == {p: len(d) for p, d in torrent.files.items()}

    assert finished.wait(30), "download did not finish"
    status = engine.status(info_hash)
    assert status.finished and status.progress == pytest.approx(1.0)
    assert status.paused, "without a seed ratio the torrent stops at completion"
    for rel, data in torrent.files.items():
        assert sha1((tmp_path / "dl" / rel).read_bytes()) == sha1(data)
    print(
        f"\nmetadata after {metadata_seconds * 1000:.0f} ms, "
        f"complete after {(time.monotonic() - started) * 1000:.0f} ms"
    )


def test_files_is_none_until_metadata(engine, tmp_path: Path) -> None:
    magnet = "magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=Nothing"
    info_hash = engine.add_magnet(magnet, tmp_path / "dl")
    assert engine.files(info_hash) is None
    status = engine.status(info_hash)
    assert status.state == "metadata" and not status.has_metadata and status.eta is None
    assert (
        engine.add_magnet(magnet, tmp_path / "dl") == info_hash
    )  # the same magnet twice: one torrent
    assert engine.torrents() == [info_hash]


def test_peers_come_only_from_the_magnet(make_torrent, seeder, make_engine, tmp_path: Path) -> None:
    """With DHT, LSD and UPnP off, x.pe is the only way to a peer: with it the metadata comes,
    without it (same seeder, running) it never does."""
    named = make_torrent({"A/a.mkv": random_bytes(MiB)})
    unnamed = make_torrent({"B/b.mkv": random_bytes(MiB)})
    seed, magnet = seeder(named)
    seed.seed(unnamed)
    engine = make_engine()
    assert engine.settings_pack()["enable_dht"] is False

    with_peer = engine.add_magnet(magnet, tmp_path / "a")
    without_peer = engine.add_magnet(unnamed.magnet(), tmp_path / "b")
    assert f"x.pe=127.0.0.1:{seed.port}" in magnet
    wait_for(lambda: engine.files(with_peer) is not None, 15, "metadata via x.pe")
    wait_for(
        lambda: engine.status(with_peer).total_payload_download > 0, 10, "data from the named peer"
    )
    time.sleep(2)
    assert engine.files(without_peer) is None
    assert engine.status(without_peer).peers == 0


@pytest.mark.slow
def test_a_peer_the_magnet_named_is_dialled_again_after_being_down_a_while(
    make_torrent, make_engine, tmp_path: Path
) -> None:
    """libtorrent stops dialling a peer after ``max_failcount`` failed attempts (within ~30 s at
    a 5 s ``min_reconnect_time``); the engine re-adds a lonely torrent's magnet peers, so a seeder
    that comes back later is still found."""
    torrent = make_torrent({"Late/late.mkv": random_bytes(MiB)})
    port = free_port()
    engine = make_engine(redial_interval=2.0)
    info_hash = engine.add_magnet(torrent.magnet(port), tmp_path / "dl")
    time.sleep(32)  # nobody listens there yet: every dial fails
    assert engine.files(info_hash) is None
    late = lt.session({**SEEDER, "listen_interfaces": f"127.0.0.1:{port}"})
    atp = lt.add_torrent_params()
    atp.ti = torrent.info
    atp.save_path = str(torrent.root)
    atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    late.add_torrent(atp)
    try:
        wait_for(lambda: engine.files(info_hash), 20, "metadata from the seeder that came back")
    finally:
        late.pause()


def test_held_files_download_nothing_until_chosen(
    make_torrent, seeder, engine, tmp_path: Path
) -> None:
    torrent = make_torrent(
        {"Film/film.mkv": random_bytes(2 * MiB), "Film/film.mp4.exe": random_bytes(300_000)}
    )
    _, magnet = seeder(torrent)
    finished = threading.Event()
    engine.on_finished.append(lambda ih: finished.set())

    info_hash = engine.add_magnet(magnet, tmp_path / "dl", hold_files=True)
    files = wait_for(lambda: engine.files(info_hash), 15, "metadata")
    time.sleep(1)
    status = engine.status(info_hash)
    assert status.total_wanted == 0 and status.total_wanted_done == 0
    assert not finished.is_set(), "nothing wanted is not a completed download"

    video = next(f for f in files if f.path.endswith(".mkv"))
    engine.set_file_priorities(info_hash, {f.index: 4 if f is video else 0 for f in files})
    assert finished.wait(30)
    assert sha1((tmp_path / "dl" / video.path).read_bytes()) == sha1(torrent.files[video.path])
    assert not (tmp_path / "dl" / "Film" / "film.mp4.exe").exists()
    assert engine.status(info_hash).total_wanted == video.size


def test_read_near_the_end_while_rate_limited(make_torrent, seeder, engine, tmp_path: Path) -> None:
    """A player seeking to the end gets its bytes in a moment, long before the download ends."""
    data = random_bytes(4 * MiB)
    torrent = make_torrent({"Movie/movie.mkv": data}, piece_size=16 * 1024)
    _, magnet = seeder(torrent, upload_limit=200_000)  # the whole file would take 20 s
    info_hash = engine.add_magnet(magnet, tmp_path / "dl")
    wait_for(lambda: engine.files(info_hash), 15, "metadata")

    offset, length = len(data) - 100_000, 64 * 1024
    assert not engine.have_range(info_hash, 0, offset, offset + length)
    started = time.monotonic()
    got = asyncio.run(engine.read(info_hash, 0, offset, length, timeout=15))
    seconds = time.monotonic() - started
    assert got == data[offset : offset + length]
    assert seconds < 5
    status = engine.status(info_hash)
    assert status.progress < 0.6, "the download must still be running for this to mean anything"
    assert engine.have_range(info_hash, 0, offset, offset + length)
    assert not engine.have_range(info_hash, 0, 0, len(data))

    # the last bytes of the file (a read past the end is cut short)
    started = time.monotonic()
    tail = asyncio.run(engine.read(info_hash, 0, len(data) - 1000, 5000, timeout=15))
    tail_seconds = time.monotonic() - started
    assert tail == data[-1000:]
    print(
        f"\nseek-to-bytes: {seconds * 1000:.0f} ms for 64 KiB at -100 KB, {tail_seconds * 1000:.0f} ms "
        f"for the last 1000 bytes; download at {status.progress:.0%}, {status.download_rate / 1000:.0f} kB/s"
    )


def test_a_seek_takes_the_deadlines_of_an_abandoned_read(
    make_torrent, seeder, engine, tmp_path: Path
) -> None:
    """A player that seeks drops its old request: the read it was waiting on is cancelled, its
    pieces lose their deadlines (and get their file's priority back), and the new read is served
    first."""
    data = random_bytes(4 * MiB)
    torrent = make_torrent({"Movie/movie.mkv": data}, piece_size=16 * 1024)
    _, magnet = seeder(torrent, upload_limit=100_000)  # 40 s for the whole file
    info_hash = engine.add_magnet(magnet, tmp_path / "dl")
    wait_for(lambda: engine.files(info_hash), 15, "metadata")
    handle = engine._session.handle(info_hash)
    middle = 2 * MiB

    async def seek() -> tuple[bytes, float]:
        old = asyncio.ensure_future(engine.read(info_hash, 0, middle, 256 * 1024, timeout=30))
        await asyncio.sleep(0.3)
        assert set(engine._streaming.deadlines._armed[info_hash]) >= {middle // torrent.piece_size}
        old.cancel()  # the player went elsewhere
        with pytest.raises(asyncio.CancelledError):
            await old
        started = time.monotonic()
        got = await engine.read(info_hash, 0, len(data) - 50_000, 40_000, timeout=15)
        return got, time.monotonic() - started

    got, seconds = asyncio.run(seek())
    assert got == data[-50_000:-10_000]
    abandoned = range(middle // torrent.piece_size, (middle + 256 * 1024) // torrent.piece_size)
    assert not set(abandoned) & set(engine._streaming.deadlines._armed.get(info_hash, {}))
    missing = [p for p in abandoned if not handle.have_piece(p)]
    assert missing, "the abandoned range must still be missing for this to mean anything"
    assert {handle.piece_priority(p) for p in missing} == {engine.file_priorities(info_hash)[0]}
    assert seconds < 5
    print(f"\nseek after an abandoned read: {seconds * 1000:.0f} ms")


def test_prioritise_for_streaming_fetches_both_ends_first(
    make_torrent, seeder, engine, tmp_path: Path
) -> None:
    data = random_bytes(4 * MiB)
    torrent = make_torrent({"Movie/movie.mp4": data}, piece_size=16 * 1024)
    _, magnet = seeder(torrent, upload_limit=250_000)
    info_hash = engine.add_magnet(magnet, tmp_path / "dl")
    wait_for(lambda: engine.files(info_hash), 15, "metadata")

    engine.prioritise_for_streaming(info_hash, 0, head_bytes=128 * 1024, tail_bytes=64 * 1024)
    wait_for(
        lambda: (
            engine.have_range(info_hash, 0, 0, 128 * 1024)
            and engine.have_range(info_hash, 0, len(data) - 64 * 1024, len(data))
        ),
        15,
        "head and tail",
    )
    assert engine.status(info_hash).progress < 0.5
    # ahead of other files, below the pieces with deadlines (libtorrent puts those at 7)
    assert engine.file_priorities(info_hash)[0] == STREAM_PRIORITY


def test_read_times_out_with_a_clear_message(make_torrent, seeder, engine, tmp_path: Path) -> None:
    magnet = "magnet:?xt=urn:btih:" + "cd" * 20 + "&dn=Lonely"
    lonely = engine.add_magnet(magnet, tmp_path / "lonely")
    with pytest.raises(StreamTimeout, match="metadata of Lonely has not arrived"):
        asyncio.run(engine.read(lonely, 0, 0, 10, timeout=0.5))

    data = random_bytes(2 * MiB)
    torrent = make_torrent({"Gone/gone.mkv": data}, piece_size=16 * 1024)
    seed, magnet = seeder(torrent, upload_limit=50_000)
    info_hash = engine.add_magnet(magnet, tmp_path / "dl")
    wait_for(lambda: engine.files(info_hash), 15, "metadata")
    seed.close()  # the only peer goes away
    with pytest.raises(StreamTimeout, match=r"waiting for \d+ of \d+ piece\(s\) of Gone"):
        asyncio.run(engine.read(info_hash, 0, len(data) // 2, 100_000, timeout=1.5))


def test_pause_resume_remove(make_torrent, seeder, engine, tmp_path: Path) -> None:
    torrent = make_torrent({"Show/a.mkv": random_bytes(2 * MiB)})
    _, magnet = seeder(torrent, upload_limit=100_000)
    info_hash = engine.add_magnet(magnet, tmp_path / "dl")
    wait_for(lambda: engine.files(info_hash), 15, "metadata")

    engine.pause(info_hash)
    wait_for(lambda: engine.status(info_hash).paused, 5, "paused")
    engine.resume(info_hash)
    wait_for(lambda: not engine.status(info_hash).paused, 5, "resumed")
    wait_for(lambda: (tmp_path / "dl" / "Show" / "a.mkv").exists(), 10, "data on disk")
    resume_file = engine.resume_dir / f"{info_hash}.fastresume"
    wait_for(resume_file.exists, 5, "a resume file")

    engine.remove(info_hash, delete_files=True)
    assert info_hash not in engine
    assert not resume_file.exists()
    wait_for(lambda: not (tmp_path / "dl" / "Show" / "a.mkv").exists(), 10, "files deleted")
    with pytest.raises(EngineError, match="no torrent"):
        engine.status(info_hash)


def test_seed_ratio_keeps_seeding(make_torrent, seeder, make_engine, tmp_path: Path) -> None:
    torrent = make_torrent({"Clip/clip.mkv": random_bytes(MiB)})
    _, magnet = seeder(torrent)
    engine = make_engine(seed_ratio=2.0)
    finished = threading.Event()
    engine.on_finished.append(lambda ih: finished.set())
    info_hash = engine.add_magnet(magnet, tmp_path / "dl")
    assert finished.wait(30)
    time.sleep(0.5)
    status = engine.status(info_hash)
    assert not status.paused and status.state in {"seeding", "finished"}


def test_bad_magnet_is_refused(engine, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Not a usable magnet link"):
        engine.add_magnet("magnet:?dn=no-hash", tmp_path)


def test_the_engine_is_the_librarys_piece_reader() -> None:
    """``media.downloading.PieceReader`` is all the library knows of the engine: ``Engine`` has
    each of its methods, with the same parameters (it may add keyword-only ones with defaults),
    and ``read`` is a coroutine function there too."""

    @runtime_checkable
    class Reader(PieceReader, Protocol):
        pass

    engine = Engine(resume_dir="unused", dht=False, lsd=False, upnp=False)
    assert isinstance(engine, Reader)
    members = ["__contains__", "have_range", "piece_span", "read", "prioritise_for_streaming"]
    for name in members:
        wanted, given = getattr(PieceReader, name), getattr(Engine, name)
        assert inspect.iscoroutinefunction(given) == inspect.iscoroutinefunction(wanted), name
        ours = inspect.signature(given).parameters
        for param in inspect.signature(wanted).parameters.values():
            assert param.name in ours, f"{name} has no parameter {param.name}"
            assert ours[param.name].kind == param.kind, f"{name}({param.name})"
            assert ours[param.name].default == param.default, f"{name}({param.name}=)"
        extra = [p for p in ours.values() if p.name not in inspect.signature(wanted).parameters]
        assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in extra), name


def test_a_stream_timeout_is_a_timeout_error() -> None:
    """What the library catches (``TimeoutError``) and what the app catches (``EngineError``)."""
    assert issubclass(StreamTimeout, TimeoutError) and issubclass(StreamTimeout, EngineError)
    error = StreamTimeout("Timed out after 1s waiting for 2 of 3 piece(s) of X")
    assert str(error) == "Timed out after 1s waiting for 2 of 3 piece(s) of X"


def test_the_engine_needs_no_django() -> None:
    """``torrents.engine`` and its parts import nothing of Django or of the project's apps (run
    in a fresh interpreter: this one has Django loaded already)."""
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys, torrents.engine\n"
        "banned = ('django', 'media', 'browse', 'plank')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in banned))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_piece_cache_keeps_the_latest_pieces_within_its_budget() -> None:
    cache = PieceCache(max_bytes=10)
    cache.put(("a", 0), b"1234")
    cache.put(("a", 1), b"5678")
    assert cache.get(("a", 0)) == b"1234"  # now the most recently used
    cache.put(("b", 0), b"90ab")  # over budget: the least recently used goes
    assert cache.get(("a", 1)) is None
    assert cache.get(("a", 0)) == b"1234" and cache.get(("b", 0)) == b"90ab"
    cache.put(("c", 0), b"x" * 11)  # bigger than the whole cache: not kept
    assert cache.get(("c", 0)) is None
    cache.drop("a")
    assert cache.get(("a", 0)) is None and cache.get(("b", 0)) == b"90ab"
