"""Fast-resume: what the engine verified survives a restart, even a kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest

from tests.live.live_server import free_port
from tests.torrents.conftest import random_bytes, sha1, wait_for

MiB = 1024 * 1024
WORKER = Path(__file__).with_name("engine_worker.py")
UTP_SOCKET = 0x20000  # lt.peer_info.utp_socket, which the Python bindings leave out


def saved_pieces(resume_file: Path, info: Any) -> tuple[int, int]:
    """(pieces, bytes) the resume file says are verified."""
    params = lt.read_resume_data(resume_file.read_bytes())
    have = [i for i, has in enumerate(params.have_pieces) if has]
    return len(have), sum(info.piece_size(i) for i in have)


def kill_9_worker(
    args: list[str],
    done: Callable[[dict[str, Any]], bool],
    late: Callable[[dict[str, Any]], str],
    timeout: float = 60,
) -> subprocess.Popen[str]:
    """Run engine_worker.py with ``args`` and kill -9 it at the first of its reports (a JSON
    line each) that is ``done``; ``late(report)`` says what failed when none is, in time."""
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        until = time.monotonic() + timeout
        assert worker.stdout is not None
        for line in worker.stdout:
            report = json.loads(line)
            if done(report):
                break
            assert time.monotonic() < until, late(report)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    return worker


def test_resume_file_is_written_at_once_and_carries_the_metadata(
    make_torrent, seeder, engine, tmp_path: Path
) -> None:
    torrent = make_torrent({"Film/film.mkv": random_bytes(MiB)})
    _, magnet = seeder(torrent, upload_limit=100_000)
    info_hash = engine.add_magnet(magnet, tmp_path / "dl")
    resume_file = engine.resume_dir / f"{info_hash}.fastresume"
    wait_for(resume_file.exists, 5, "the resume file of a fresh magnet")
    wait_for(lambda: engine.files(info_hash), 15, "metadata")
    wait_for(
        lambda: lt.read_resume_data(resume_file.read_bytes()).ti is not None,
        5,
        "the info dict in the resume file",
    )
    params = lt.read_resume_data(resume_file.read_bytes())
    assert params.save_path == str(tmp_path / "dl")
    assert not list(engine.resume_dir.glob("*.tmp"))


def test_kill_9_then_resume_without_fetching_verified_pieces_again(
    make_torrent, seeder, make_engine, tmp_path: Path
) -> None:
    data = random_bytes(4 * MiB)
    torrent = make_torrent({"Movie/movie.mkv": data}, piece_size=32 * 1024)
    seed, magnet = seeder(torrent, upload_limit=350_000)  # ~12 s for the whole file
    resume_dir, save_path = tmp_path / "resume", tmp_path / "dl"
    resume_file = resume_dir / f"{torrent.info_hash}.fastresume"

    worker = kill_9_worker(
        [magnet, str(save_path), str(resume_dir)],
        done=lambda report: (
            resume_file.exists() and saved_pieces(resume_file, torrent.info)[1] >= 0.3 * len(data)
        ),
        late=lambda report: (
            f"the worker got to {report['progress']:.0%} without saving 30% in time"
        ),
    )
    assert worker.returncode == -signal.SIGKILL
    pieces, saved = saved_pieces(resume_file, torrent.info)
    assert 0.3 * len(data) <= saved < 0.95 * len(data), f"saved {saved} of {len(data)} bytes"

    restarted = time.monotonic()
    engine = make_engine(resume_dir=resume_dir)
    assert torrent.info_hash in engine, "the torrent is back from its resume file"
    finished = threading.Event()
    engine.on_finished.append(lambda ih: finished.set())
    status = wait_for(
        lambda: (
            (st := engine.status(torrent.info_hash)).state not in {"checking", "metadata"} and st
        ),
        10,
        "the resume data to be checked",
    )
    checked_after = time.monotonic() - restarted
    assert status.total_wanted_done >= saved
    assert status.progress >= saved / len(data) - 1e-6

    assert finished.wait(60), "the resumed download did not finish"
    final = engine.status(torrent.info_hash)
    refetched = final.total_payload_download
    assert sha1((save_path / "Movie" / "movie.mkv").read_bytes()) == sha1(data)
    # Only what was missing comes again (plus a little slack for blocks in flight).
    assert refetched <= len(data) - saved + 8 * torrent.piece_size
    assert refetched < 0.75 * len(data)
    print(
        f"\nkill -9 with {saved / len(data):.0%} saved ({pieces} pieces); after restart at {status.progress:.0%} "
        f"within {checked_after:.2f}s; re-fetched {refetched} of {len(data)} bytes "
        f"({refetched / len(data):.0%}; missing were {len(data) - saved})"
    )


def test_kill_9_then_restart_on_the_same_port_gets_bytes_within_seconds(
    make_torrent, seeder, make_engine, tmp_path: Path
) -> None:
    """A restarted engine listens where the dead one did (a fixed port, as ``serve`` runs). The
    seeder still holds the dead process's uTP connection (UDP has no kernel-level close, unlike
    TCP) until its uTP timeout, and turns the new one away as a duplicate meanwhile; libtorrent
    then waited its default ``min_reconnect_time`` (60 s) before dialling again."""
    data = random_bytes(4 * MiB)
    torrent = make_torrent({"Movie/movie.mkv": data}, piece_size=32 * 1024)
    seed, magnet = seeder(torrent, upload_limit=200_000)  # ~20 s: still sending when killed
    resume_dir, save_path = tmp_path / "resume", tmp_path / "dl"
    listen = f"127.0.0.1:{free_port()}"

    kill_9_worker(
        [magnet, str(save_path), str(resume_dir), listen],
        done=lambda report: report["total_payload_download"] >= 0.2 * len(data),
        late=lambda report: "the worker got no bytes in time",
    )
    seeder_side = seed.handles[torrent.info_hash].get_peer_info()
    transports = ["uTP" if p.flags & UTP_SOCKET else "TCP" for p in seeder_side]

    restarted = time.monotonic()
    engine = make_engine(resume_dir=resume_dir, listen=listen)
    assert engine.listen_port == int(listen.rsplit(":", 1)[1])
    assert torrent.info_hash in engine
    wait_for(
        lambda: engine.status(torrent.info_hash).total_payload_download > 0,
        30,
        f"bytes after the restart (the seeder held {transports or 'no'} connection(s))",
    )
    took = time.monotonic() - restarted
    assert took < 10, f"bytes came {took:.1f}s after the restart ({transports})"
    print(f"\nafter kill -9 (the seeder held {transports}), bytes again after {took:.1f}s")


def test_clean_stop_and_restart_in_process(
    make_torrent, seeder, make_engine, tmp_path: Path
) -> None:
    data = random_bytes(2 * MiB)
    torrent = make_torrent({"Show/ep.mkv": data}, piece_size=16 * 1024)
    _, magnet = seeder(torrent, upload_limit=250_000)
    resume_dir = tmp_path / "resume"
    first = make_engine(resume_dir=resume_dir, resume_interval=60)
    info_hash = first.add_magnet(magnet, tmp_path / "dl")
    wait_for(lambda: first.status(info_hash).progress >= 0.25, 30, "a quarter of the file")
    first.pause(info_hash)
    first.stop()  # saves resume data on the way out, whatever the timer says
    _, saved = saved_pieces(resume_dir / f"{info_hash}.fastresume", torrent.info)
    assert saved >= 0.25 * len(data)

    second = make_engine(resume_dir=resume_dir)
    status = wait_for(
        lambda: (st := second.status(info_hash)).state != "checking" and st, 10, "resume check"
    )
    assert status.paused, "a paused torrent stays paused across a restart"
    assert status.total_wanted_done >= saved
    second.resume(info_hash)
    wait_for(lambda: second.status(info_hash).finished, 30, "completion")
    assert (
        second.status(info_hash).total_payload_download
        <= len(data) - saved + 8 * torrent.piece_size
    )


def test_magnet_without_metadata_survives_a_restart(make_engine, tmp_path: Path) -> None:
    magnet = "magnet:?xt=urn:btih:" + "ef" * 20 + "&dn=Waiting&x.pe=127.0.0.1:9"
    resume_dir = tmp_path / "resume"
    first = make_engine(resume_dir=resume_dir)
    info_hash = first.add_magnet(magnet, tmp_path / "dl")
    wait_for((resume_dir / f"{info_hash}.fastresume").exists, 5, "resume file")
    first.stop()
    second = make_engine(resume_dir=resume_dir)
    assert second.torrents() == [info_hash]
    assert second.status(info_hash).name == "Waiting"


def test_removed_torrent_does_not_come_back(
    make_torrent, seeder, make_engine, tmp_path: Path
) -> None:
    torrent = make_torrent({"Gone/gone.mkv": random_bytes(MiB)})
    _, magnet = seeder(torrent)
    resume_dir = tmp_path / "resume"
    first = make_engine(resume_dir=resume_dir)
    info_hash = first.add_magnet(magnet, tmp_path / "dl")
    wait_for(lambda: first.files(info_hash), 15, "metadata")
    first.remove(info_hash)
    first.stop()
    assert make_engine(resume_dir=resume_dir).torrents() == []


def test_corrupt_resume_file_is_moved_aside(
    make_engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    resume_dir = tmp_path / "resume"
    resume_dir.mkdir()
    (resume_dir / ("12" * 20 + ".fastresume")).write_bytes(b"not bencoded at all")
    engine = make_engine(resume_dir=resume_dir)
    assert engine.torrents() == []
    assert (resume_dir / ("12" * 20 + ".fastresume.bad")).exists()
    assert "cannot load" in caplog.text
