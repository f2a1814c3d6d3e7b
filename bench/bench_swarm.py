"""Streaming from the clients real swarms are made of: seeks while downloading, and what they cost.

    .venv/bin/python bench/bench_swarm.py [--size-mb 30] [--rate-kbps 1000] [--runs 1]
                                          [--clients transmission,aria2] [--keep]

Per third-party client (Debian's ``transmission-daemon`` 3.00 and ``aria2c`` 1.36), seeding a
``--size-mb`` MB file of random bytes over 127.0.0.1 capped at ``--rate-kbps`` kB/s, to one real
``manage.py serve`` (the engine part, DHT / local peer discovery / port mapping off; the seeder
named in the magnet, ``x.pe``):

- **plain**: add the magnet, wait until the download is complete;
- **with seeks**: a new torrent (new bytes) from the same client in the same run; once 10 % is
  here, seeks through ``/media/<id>/stream`` to 5 %, 55 %, 30 %, 85 % and 45 % of the file, one
  after the other (``Range: bytes=N-``, until its first 64 KiB are in hand and correct), then
  wait until the download is complete.

Printed per client: each seek's time to its bytes, the download time of both runs and their
ratio, against the goals (a seek answered within 5 s; the run with seeks within 1.5× the plain
run). Transmission 3.00 before the stall guard (torrents/stalls.py): one seek at 5 % froze the
download for about 300 s. Download times include the client's own start-up (Transmission unchokes
a new peer only at its ten-second rechoke), the same in both runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_torrent import Client, find_title, serve_from  # noqa: E402
from tests.live.live_server import base_env  # noqa: E402
from tests.torrents.conftest import made_torrent  # noqa: E402
from tests.torrents.third_party import (  # noqa: E402
    ARIA2C,
    TRANSMISSION,
    Aria2,
    Transmission,
    torrent_file,
)

KIB = 1024
FIRST = 64 * KIB
SEEKS = (0.05, 0.55, 0.30, 0.85, 0.45)
SEEK_GOAL = 5.0
RATIO_GOAL = 1.5
GIVE_UP = 600.0


@dataclass
class Run:
    seconds: float = float("nan")
    seeks: list[tuple[float, float]] = field(default_factory=list)  # (where, seconds)
    failed: list[str] = field(default_factory=list)


def downloads_state(title_id: int) -> tuple[str, float]:
    """The download's state and progress, read from the serve process's database."""
    from torrents.models import Download  # after django.setup() (see main)

    row = Download.objects.filter(title_id=title_id).values_list("state", "progress").first()
    return row if row else ("", 0.0)


def one_run(
    client: Client, seeder_kind: str, home: Path, size: int, rate_kbps: int, seeks: bool
) -> Run:
    run = Run()
    data = os.urandom(size)
    label = "Seeks" if seeks else "Plain"
    torrent = made_torrent(
        home / "content", {f"Swarm.{label}.2020/Swarm.{label}.2020.mkv": data}, 256 * KIB
    )
    meta = torrent_file(torrent.info)
    if seeder_kind == "transmission":
        seeder = Transmission(home / "client", upload_kbps=rate_kbps)
        seeder.seed(meta, torrent.root)
    else:
        seeder = Aria2(home / "client", meta, torrent.root, upload_limit=f"{rate_kbps}K")
        time.sleep(2)  # aria2 checks the file before it answers peers
    try:
        started = time.monotonic()
        response = client.post(
            "/media/add", {"magnet": torrent.magnet(seeder.peer_port), "type": "movie"}
        )
        if response.status_code != 302:
            raise SystemExit(f"add failed: HTTP {response.status_code}\n{response.text[:2000]}")
        title_id = find_title(client)
        stream = f"/media/{title_id}/stream"
        if seeks:
            while downloads_state(title_id)[1] < 0.10:
                if time.monotonic() - started > GIVE_UP:
                    raise SystemExit("10% never came")
                time.sleep(0.2)
            for where in SEEKS:
                offset = int(size * where) // 4096 * 4096
                asked = time.monotonic()
                got = None
                while got is None and time.monotonic() - asked < 60:
                    got = client.read(stream, f"bytes={offset}-", FIRST, asked + 60)
                took = time.monotonic() - asked
                if got != data[offset : offset + FIRST]:
                    run.failed.append(f"seek to {where:.0%}: no (right) bytes in {took:.0f} s")
                run.seeks.append((where, took))
        while downloads_state(title_id)[0] not in ("complete", "seeding"):
            if time.monotonic() - started > GIVE_UP:
                run.failed.append(f"not complete after {GIVE_UP:g} s")
                return run
            time.sleep(0.2)
        run.seconds = time.monotonic() - started
        client.post(f"/media/{title_id}/delete", {"delete_files": "on"})
    finally:
        seeder.stop()
        shutil.rmtree(home, ignore_errors=True)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=30)
    parser.add_argument("--rate-kbps", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1, help="pairs of runs per client")
    parser.add_argument("--clients", default="transmission,aria2")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    kinds = [k for k in args.clients.split(",") if k]
    for kind, binary in (("transmission", TRANSMISSION), ("aria2", ARIA2C)):
        if kind in kinds and binary is None:
            raise SystemExit(f"{kind} is not installed (apt-get install transmission-daemon aria2)")

    scratch = Path(tempfile.mkdtemp(prefix="plank-bench-swarm-"))
    env = base_env(
        scratch / "data",
        TORRENT_DHT="0",
        TORRENT_LSD="0",
        TORRENT_UPNP="0",
        DOWNLOAD_SAVE_SECONDS="0.5",
        CACHALOT="0",
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith("PLANK_")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plank.settings")
    import django  # this process reads the serve process's rows: Django on the same data dir

    server = serve_from(ROOT, env)
    django.setup()
    failed = False
    try:
        client = Client(server)
        print(
            f"swarm: {args.size_mb} MB file, 256 KiB pieces, the client seeding at "
            f"{args.rate_kbps} kB/s over 127.0.0.1, one `serve`; seeks to "
            + ", ".join(f"{w:.0%}" for w in SEEKS)
        )
        for kind in kinds:
            plain: list[Run] = []
            seeky: list[Run] = []
            for n in range(args.runs):
                for seeks, into in ((False, plain), (True, seeky)):
                    home = scratch / f"{kind}-{n}-{'seeks' if seeks else 'plain'}"
                    into.append(
                        one_run(client, kind, home, args.size_mb * 1_000_000, args.rate_kbps, seeks)
                    )
            failed |= report(kind, plain, seeky)
    finally:
        server.stop()
        if args.keep:
            print(f"\nkept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(1 if failed else 0)


def report(kind: str, plain: list[Run], seeky: list[Run]) -> bool:
    print(f"\n{kind}")
    failed = False
    for run in plain + seeky:
        for failure in run.failed:
            print(f"  FAILED {failure}")
            failed = True
    seek_times = [s for run in seeky for _, s in run.seeks]
    for n, run in enumerate(seeky):
        print(
            f"  seeks (run {n + 1}): "
            + ", ".join(f"{where:.0%} in {s:.2f} s" for where, s in run.seeks)
        )
    plain_s = statistics.median(r.seconds for r in plain)
    seeky_s = statistics.median(r.seconds for r in seeky)
    ratio = seeky_s / plain_s
    worst = max(seek_times) if seek_times else float("nan")
    print(f"  slowest seek                {worst:6.2f} s   (goal {SEEK_GOAL:g} s)")
    print(f"  download, plain             {plain_s:6.1f} s")
    print(f"  download, with the seeks    {seeky_s:6.1f} s")
    print(f"  ratio                       {ratio:6.2f}     (goal {RATIO_GOAL:g}x)")
    ok = worst <= SEEK_GOAL and ratio <= RATIO_GOAL
    print(f"  {'goals met' if ok else 'GOALS MISSED'}")
    return failed or not ok


if __name__ == "__main__":
    main()
