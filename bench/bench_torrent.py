"""Add-to-first-bytes and seek-to-bytes latency, from a local seeder, through the real stream view.

    .venv/bin/python bench/bench_torrent.py [--runs 10] [--size-mib 256] [--piece-kib 512]
                                            [--rate-mbyte 4] [--seeder-tick-ms 500]
                                            [--compare DIR] [--keep]

What it does:

1. a throw-away data directory, migrated, with one user; ``manage.py serve`` (daphne, the engine
   part on 127.0.0.1 with DHT / local peer discovery / port mapping off, the job worker);
2. a libtorrent seeder in this process on 127.0.0.1, named in each magnet (``x.pe``);
3. per run, a fresh torrent (a new info hash; the same ``--size-mib`` MiB of random bytes,
   ``--piece-kib`` KiB pieces):

   - **add-to-first-bytes**: from ``POST /media/add`` until the first 64 KiB of
     ``GET /media/<id>/stream`` with ``Range: bytes=0-`` (what a player sends) are in hand and
     correct. It spans metadata, vetting, the engine's head/tail priorities and the first
     chunk the view sends. 404/503 answers (no file list yet, metadata pending) are retried every
     20 ms, as a player's retry would. *files known* is the part until the stream stopped
     answering 404 (metadata, vetting); the rest is the first piece coming from the swarm.
   - **seek-to-bytes** (rate-limited seeder only, so the file stays mostly undownloaded): after
     the first bytes, two seeks to offsets between 55% and 95% of the file, each
     ``Range: bytes=N-`` until 64 KiB are in hand, and the same with a closed 64 KiB range
     (``bytes=N-(N+65535)``). The view answers an open range once the piece holding byte N is
     here, a closed one once the range is.

   then the title is deleted with its files.

Two seeders: unlimited (loopback: the ceiling), and ``--rate-mbyte`` MB/s (a healthy swarm as one
fast peer). Figures: p50 / p95 / max in milliseconds. The client runs on the same machine.

The seeder is a stock libtorrent session, and libtorrent hands out upload quota once per
``tick_interval`` (500 ms by default): a rate-limited seeder sends in bursts every half second, so
seek latencies from it cluster on 0.5 s steps. ``--seeder-tick-ms`` changes that tick (100 makes
the seeder smoother than most real peers).

``--compare DIR`` runs a second ``manage.py serve`` from another checkout (say a copy of the last
commit) side by side: every run is made against both servers, alternately first, with the same
seeder, so both sets of figures come from the same machine at the same time.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import libtorrent as lt
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live.live_server import (  # noqa: E402
    PASSWORD,
    Server,
    _pump,
    base_env,
    free_port,
)
from tests.torrents.conftest import Seeder  # noqa: E402

KIB = 1024
MIB = 1024 * KIB
FIRST = 64 * KIB
POLL = 0.02
GIVE_UP = 60.0  # seconds; a read that takes longer is counted as failed


@dataclass
class Samples:
    first: list[float] = field(default_factory=list)
    files_known: list[float] = field(default_factory=list)
    seek_open: list[float] = field(default_factory=list)
    seek_closed: list[float] = field(default_factory=list)
    progress_at_seek: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<34} -"
    ms = [v * 1000 for v in values]
    return (
        f"{name:<34} p50 {statistics.median(ms):7.0f} ms   p95 {quantile(ms, 0.95):7.0f} ms   "
        f"max {max(ms):7.0f} ms   (n={len(ms)})"
    )


def manage_in(root: Path, env: dict[str, str], *args: str) -> str:
    """``manage.py <args>`` of the checkout at ``root``, to completion."""
    result = subprocess.run(
        [sys.executable, str(root / "manage.py"), *args],
        cwd=root,
        env={**env, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def serve_from(root: Path, env: dict[str, str]) -> Server:
    """``manage.py serve`` of the checkout at ``root`` on a free port, once it listens."""
    env = {**env, "PYTHONPATH": str(root)}
    manage_in(root, env, "migrate", "--noinput", "-v", "0")
    code = (
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user('bench', password={PASSWORD!r})"
    )
    manage_in(root, env, "shell", "-c", code)
    port = free_port()
    log_path = Path(env["PLANK_DATA_DIR"]) / f"serve-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, str(root / "manage.py"), "serve", "--port", str(port)],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    server = Server(process, port, log_path)
    assert process.stdout is not None
    threading.Thread(target=_pump, args=(process.stdout, server._lines), daemon=True).start()
    until = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server
        except OSError:
            if time.monotonic() > until:
                server.stop()
                raise TimeoutError(f"the server did not listen:\n{server.log()}") from None
            time.sleep(0.1)


class Client:
    """A logged-in browser session against the server."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.session = requests.Session()
        self.last_status = 0  # of the last read
        self.session.cookies.set("sessionid", server.login("bench"))
        self.session.get(f"{server.url}/accounts/login/", timeout=10)  # the CSRF cookie

    def post(self, path: str, data: dict[str, str]) -> requests.Response:
        data = {**data, "csrfmiddlewaretoken": self.session.cookies["csrftoken"]}
        return self.session.post(
            f"{self.server.url}{path}", data=data, allow_redirects=False, timeout=30
        )

    def read(self, path: str, range_header: str, want: int, until: float) -> bytes | None:
        """The first ``want`` bytes of a ranged GET; None on a 404/503 or a client timeout at
        ``until`` (try again while there is time)."""
        self.last_status = 0
        try:
            with self.session.get(
                f"{self.server.url}{path}",
                headers={"Range": range_header},
                stream=True,
                timeout=max(0.5, until - time.monotonic()),
            ) as response:
                self.last_status = response.status_code
                if response.status_code in (404, 503):
                    return None
                if response.status_code != 206:
                    raise SystemExit(
                        f"{path} {range_header}: HTTP {response.status_code}\n{response.text[:500]}"
                    )
                data = b""
                for chunk in response.iter_content(chunk_size=16 * KIB):
                    data += chunk
                    if len(data) >= want:
                        break
                return data[:want]
        except requests.exceptions.Timeout:
            return None


def make_torrent(work: Path, base: Path, run: str, piece: int) -> tuple[lt.torrent_info, Path]:
    """A single-file torrent named for this run (a new info hash) over the same bytes."""
    root = work / run.replace(" ", "-")
    root.mkdir()
    name = f"Bench.Run.{run.replace(' ', '.')}.2020.1080p.mkv"
    os.link(base, root / name)
    creator = lt.create_torrent(lt.list_files(str(root / name)), piece, lt.create_torrent.v1_only)
    lt.set_piece_hashes(creator, str(root))
    return lt.torrent_info(lt.bencode(creator.generate())), root


def find_title(client: Client) -> int:
    """The newest title's id, from the library page (the add redirects there)."""
    page = client.session.get(f"{client.server.url}/?type=movie", timeout=10).text
    ids = [int(chunk.split('"', 1)[0]) for chunk in page.split('data-title-id="')[1:]]
    if not ids:
        raise SystemExit("the added title is not on the library page")
    return max(ids)


def progress_of(client: Client, title_id: int) -> float:
    page = client.session.get(f"{client.server.url}/media/{title_id}/", timeout=10).text
    marker = 'data-field="fraction" data-format="percent">'
    at = page.find(marker)
    if at < 0:
        return float("nan")
    return float(page[at + len(marker) :].split("%", 1)[0]) / 100


def one_run(
    client: Client,
    seeder: Seeder,
    work: Path,
    base: Path,
    data: bytes,
    run: str,
    piece: int,
    rate: int | None,
    samples: Samples,
    seeks: bool,
) -> None:
    info, root = make_torrent(work, base, run, piece)
    handle_params = lt.add_torrent_params()
    handle_params.ti = info
    handle_params.save_path = str(root)
    handle_params.flags |= lt.torrent_flags.seed_mode
    handle_params.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    handle = seeder.session.add_torrent(handle_params)
    if rate:
        handle.set_upload_limit(rate)
    magnet = lt.make_magnet_uri(info) + f"&x.pe=127.0.0.1:{seeder.port}"

    started = time.monotonic()
    response = client.post("/media/add", {"magnet": magnet, "type": "movie"})
    if response.status_code != 302:
        raise SystemExit(f"add failed: HTTP {response.status_code}\n{response.text[:2000]}")
    title_id = find_title(client)
    stream = f"/media/{title_id}/stream"
    until = started + GIVE_UP
    first = None
    known = None
    while first is None and time.monotonic() < until:
        asked = time.monotonic()
        first = client.read(stream, "bytes=0-", FIRST, until)
        if known is None and client.last_status != 404:
            known = asked - started  # the file list was there when this request was made
        if first is None:
            time.sleep(POLL)
    if first is None:
        samples.failed.append(f"{run}: no first bytes within {GIVE_UP:g} s")
        seeks = False
    else:
        samples.first.append(time.monotonic() - started)
        samples.files_known.append(known if known is not None else float("nan"))
        assert first == data[:FIRST], "wrong first bytes"

    if seeks:
        rng = random.Random(run)
        for _ in range(2):
            for style, store in (("open", samples.seek_open), ("closed", samples.seek_closed)):
                offset = rng.randrange(int(0.55 * len(data)), int(0.95 * len(data)))
                offset -= offset % 4096
                header = (
                    f"bytes={offset}-"
                    if style == "open"
                    else f"bytes={offset}-{offset + FIRST - 1}"
                )
                asked = time.monotonic()
                got = client.read(stream, header, FIRST, asked + GIVE_UP)
                if got is None:
                    samples.failed.append(f"{run}: no answer to {header} in {GIVE_UP:g} s")
                    continue
                store.append(time.monotonic() - asked)
                assert got == data[offset : offset + FIRST], f"wrong bytes at {offset}"
        samples.progress_at_seek.append(progress_of(client, title_id))

    response = client.post(f"/media/{title_id}/delete", {"delete_files": "on"})
    assert response.status_code in (302, 204), response.status_code
    seeder.session.remove_torrent(handle)
    shutil.rmtree(root, ignore_errors=True)


def report(label: str, samples: Samples, seeks: bool) -> None:
    print(f"  {label}")
    print(line("  add -> first 64 KiB (bytes=0-)", samples.first))
    print(line("    of which until files known", [v for v in samples.files_known if v == v]))
    if seeks:
        print(line("  seek -> 64 KiB (bytes=N-)", samples.seek_open))
        print(line("  seek -> 64 KiB (bytes=N-N+64K)", samples.seek_closed))
        done = [p for p in samples.progress_at_seek if p == p]
        if done:
            print(
                f"{'  downloaded when the seeks ended':<34} "
                f"median {statistics.median(done):.0%}, max {max(done):.0%}"
            )
    for failure in samples.failed:
        print(f"  FAILED {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--piece-kib", type=int, default=512)
    parser.add_argument("--rate-mbyte", type=float, default=4.0, help="the limited seeder, MB/s")
    parser.add_argument(
        "--seeder-tick-ms", type=int, default=500, help="the seeder's libtorrent tick_interval"
    )
    parser.add_argument(
        "--compare", type=Path, help="another checkout to serve side by side (e.g. the last commit)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="plank-bench-torrent-"))
    work = scratch / "seed"
    work.mkdir()
    data = os.urandom(args.size_mib * MIB)
    base = work / "content.bin"
    base.write_bytes(data)
    piece = args.piece_kib * KIB
    rate = int(args.rate_mbyte * 1e6)
    trees = [("this tree", ROOT)]
    if args.compare is not None:
        trees.append((f"compare: {args.compare}", args.compare.resolve()))

    servers: dict[str, Server] = {}
    seeder = Seeder()
    seeder.session.apply_settings({"tick_interval": args.seeder_tick_ms})
    try:
        for n, (label, root) in enumerate(trees):
            env = base_env(
                scratch / f"data-{n}",
                TORRENT_DHT="0",
                TORRENT_LSD="0",
                TORRENT_UPNP="0",
                DOWNLOAD_SAVE_SECONDS="1",  # the title page's progress, read after the seeks
            )
            servers[label] = serve_from(root, env)
        clients = {label: Client(server) for label, server in servers.items()}
        print(
            f"torrent latency: {args.size_mib} MiB file, {args.piece_kib} KiB pieces, "
            f"{args.runs} runs per seeder and tree, serve on 127.0.0.1, "
            f"seeder tick {args.seeder_tick_ms} ms"
        )
        for name, limit, seeks in (
            ("unlimited seeder (loopback)", None, False),
            (f"seeder at {args.rate_mbyte:g} MB/s", rate, True),
        ):
            samples = {label: Samples() for label, _ in trees}
            for n in range(args.runs):
                order = trees if n % 2 == 0 else trees[::-1]
                for label, _ in order:
                    tag = f"{name[:3]}{n}{'c' if label != trees[0][0] else ''}"
                    one_run(
                        clients[label],
                        seeder,
                        work,
                        base,
                        data,
                        tag,
                        piece,
                        limit,
                        samples[label],
                        seeks,
                    )
            print(f"\n{name}")
            for label, _ in trees:
                report(label, samples[label], seeks)
    except BaseException:
        for label, server in servers.items():
            print(f"\nthe log of {label} ends with:\n{server.log()}", file=sys.stderr)
        raise
    finally:
        seeder.close()
        for server in servers.values():
            server.stop()
        if args.keep:
            print(f"\nkept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
