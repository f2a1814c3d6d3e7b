"""Real torrents for the engine tests: made on the fly, seeded by a real libtorrent session on
127.0.0.1, fetched by a real ``Engine``. Nothing leaves the machine: every session listens on
127.0.0.1 only, with DHT, local peer discovery, UPnP and NAT-PMP off; peers are named in the
magnet (``x.pe``)."""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest

from torrents.engine import Engine, key_of

OFFLINE: dict[str, Any] = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "alert_mask": 0,
}
# Every test peer is 127.0.0.1: a seeder must tell them apart by peer id, not by address (after a
# kill -9 its old connection to the dead engine lingers until it times out).
SEEDER = {**OFFLINE, "allow_multiple_connections_per_ip": True}

_names = itertools.count()


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def wait_for(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    until = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > until:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class MadeTorrent:
    info: Any  # lt.torrent_info
    root: Path  # the folder holding the content (a seeder's save_path)
    name: str  # the torrent's name (its folder, or its one file)
    files: dict[str, bytes]  # path inside the torrent -> content
    piece_size: int

    @property
    def info_hash(self) -> str:
        return key_of(self.info.info_hashes())

    @property
    def total_size(self) -> int:
        return sum(len(data) for data in self.files.values())

    def magnet(self, *peers: int) -> str:
        """The magnet link, naming peers on 127.0.0.1 at these ports (x.pe)."""
        return lt.make_magnet_uri(self.info) + "".join(f"&x.pe=127.0.0.1:{port}" for port in peers)


def made_torrent(root: Path, files: dict[str, bytes], piece_size: int = 32 * 1024) -> MadeTorrent:
    """A real v1 torrent of ``files`` ({path inside the torrent: content}), written under
    ``root``. Keys are paths inside the torrent; their first part is the torrent's name (its
    folder). A single key without a folder makes a single-file torrent."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    names = {Path(rel).parts[0] for rel in files}
    assert len(names) == 1, "every file must sit under the same top folder (the torrent's name)"
    name = names.pop()
    entries = lt.list_files(str(root / name))
    creator = lt.create_torrent(entries, piece_size, lt.create_torrent.v1_only)
    lt.set_piece_hashes(creator, str(root))
    info = lt.torrent_info(lt.bencode(creator.generate()))
    return MadeTorrent(info=info, root=root, name=name, files=dict(files), piece_size=piece_size)


@pytest.fixture
def make_torrent(tmp_path: Path) -> Callable[..., MadeTorrent]:
    """``make_torrent({"Movie/movie.mkv": data, ...}, piece_size=32768)``: ``made_torrent`` in a
    new folder of ``tmp_path``."""

    def make(files: dict[str, bytes], piece_size: int = 32 * 1024) -> MadeTorrent:
        return made_torrent(tmp_path / f"content-{next(_names)}", files, piece_size)

    return make


class Seeder:
    """A libtorrent session on 127.0.0.1 seeding one or more torrents."""

    def __init__(self, upload_limit: int | None = None) -> None:
        self.session = lt.session(dict(SEEDER))
        self.upload_limit = upload_limit
        self.handles: dict[str, Any] = {}

    @property
    def port(self) -> int:
        return self.session.listen_port()

    def seed(self, torrent: MadeTorrent) -> str:
        atp = lt.add_torrent_params()
        atp.ti = torrent.info
        atp.save_path = str(torrent.root)
        atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
        handle = self.session.add_torrent(atp)
        if self.upload_limit:
            handle.set_upload_limit(self.upload_limit)
        wait_for(lambda: handle.status().is_seeding, 20, "the seeder to check its files")
        self.handles[torrent.info_hash] = handle
        return torrent.magnet(self.port)

    def set_upload_limit(self, limit: int) -> None:
        for handle in self.handles.values():
            handle.set_upload_limit(limit)

    def close(self) -> None:
        self.handles.clear()
        self.session = None


@pytest.fixture
def seeder() -> Iterator[Callable[..., tuple[Seeder, str]]]:
    """``seeder(torrent, upload_limit=None) -> (Seeder, magnet with x.pe=127.0.0.1:<port>)``."""
    made: list[Seeder] = []

    def start(torrent: MadeTorrent, upload_limit: int | None = None) -> tuple[Seeder, str]:
        s = Seeder(upload_limit)
        made.append(s)
        return s, s.seed(torrent)

    yield start
    for s in made:
        s.close()


def offline_engine(resume_dir: Path, **options: Any) -> Engine:
    options.setdefault("resume_interval", 1.0)
    options.setdefault("listen", "127.0.0.1:0")
    return Engine(resume_dir=resume_dir, dht=False, lsd=False, upnp=False, **options)


@pytest.fixture
def make_engine(tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    """``make_engine(resume_dir=None, **options)``: a started offline Engine, stopped at teardown
    (``listen="127.0.0.1:<port>"`` for a fixed port)."""
    started: list[Engine] = []

    def make(resume_dir: Path | None = None, **options: Any) -> Engine:
        engine = offline_engine(resume_dir or tmp_path / "resume", **options)
        engine.start()
        started.append(engine)
        return engine

    yield make
    for engine in started:
        engine.stop()


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    return make_engine()


def random_bytes(size: int) -> bytes:
    return os.urandom(size)
