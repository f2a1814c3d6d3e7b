"""Streaming throughput: the real ASGI app under daphne, beside reading the file from disk.

    .venv/bin/python bench/bench_stream.py [--size-mib 512] [--keep]

What it does, in one run:

1. makes a throw-away data directory (``PLANK_DATA_DIR``), migrates it, writes a file of
   ``--size-mib`` MiB of incompressible bytes under ``library/``, and creates a user, a Title and
   its MediaFile with ``manage.py shell -c``;
2. starts ``manage.py serve --web-only --port P`` (daphne, the real ``plank.asgi`` app) and logs
   in with ``requests`` to get a session cookie;
3. measures, each with the file in the page cache (the same for both sides):
   - reading the file straight from disk (``os.pread``, 1 MiB at a time): the ceiling;
   - whole-file reads: as a browser's player does (``Range: bytes=N-`` again from where each
     206 ended) and one plain GET without Range;
   - big random ranges (16 MiB) and small ones (64 KiB, what a player's seek costs);
   - the server's CPU seconds per stream (``/proc/<pid>/stat`` utime+stime before/after);
   - a *slow reader*: a client that asks for ``bytes=0-`` and then stops reading, with the
     server's resident memory before and after (daphne has no write back-pressure, so this
     shows how much of the file a stalled client makes the server buffer).

The client runs on the same machine (two shared cores here), so HTTP figures include the
client's own work; the server CPU figure is the server's alone.
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
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live.live_server import free_port, manage  # noqa: E402

MIB = 1024 * 1024
USERNAME, PASSWORD = "bench", "bench password 123"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(MIB)
    with open(path, "wb") as f:
        for i in range(size // MIB):
            # vary each block a little so nothing downstream could dedupe or compress it
            f.write(i.to_bytes(8, "little") + block[8:])
        f.write(os.urandom(size % MIB))


def disk_read(path: Path, start: int = 0, length: int | None = None) -> int:
    size = path.stat().st_size if length is None else length
    fd = os.open(path, os.O_RDONLY)
    try:
        done = 0
        while done < size:
            data = os.pread(fd, min(MIB, size - done), start + done)
            if not data:
                break
            done += len(data)
        return done
    finally:
        os.close(fd)


def http_read(
    session: requests.Session, url: str, headers: dict[str, str] | None = None
) -> tuple[int, int]:
    with session.get(url, headers=headers or {}, stream=True, timeout=120) as response:
        total = 0
        while True:
            data = response.raw.read(MIB, decode_content=False)
            if not data:
                break
            total += len(data)
        return response.status_code, total


def player_read(session: requests.Session, url: str, size: int) -> tuple[int, int]:
    """Read the whole file the way a browser's player does: ``bytes=N-`` from where the last
    206 ended (the server answers an open-ended range with at most 32 MiB)."""
    position = requests_made = 0
    while position < size:
        with session.get(
            url, headers={"Range": f"bytes={position}-"}, stream=True, timeout=120
        ) as response:
            assert response.status_code == 206, response.status_code
            requests_made += 1
            while True:
                data = response.raw.read(MIB, decode_content=False)
                if not data:
                    break
                position += len(data)
    return requests_made, position


def login(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=10)
    token = session.cookies.get("csrftoken", "")
    response = session.post(
        f"{base}/accounts/login/",
        data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
        allow_redirects=False,
        timeout=10,
    )
    if response.status_code != 302 or "sessionid" not in session.cookies:
        raise SystemExit(f"login failed: {response.status_code} {response.text[:300]}")
    return session


def wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server didn't come up within 30 s")


def slow_reader(
    port: int, path: str, cookie: str, pid: int, range_header: str | None, stall: float = 4.0
) -> tuple[float, float, int]:
    """Send a GET, read 64 KiB, stop reading for `stall` s; server RSS before/after (MiB)."""
    before = rss_mib(pid)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
        + (f"Range: {range_header}\r\n" if range_header else "")
        + "Connection: close\r\n\r\n"
    )
    sock.sendall(request.encode())
    got = 0
    while got < 64 * 1024:
        data = sock.recv(65536)
        if not data:
            break
        got += len(data)
    time.sleep(stall)
    after = rss_mib(pid)
    sock.close()
    return before, after, got


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = parser.parse_args()
    size = args.size_mib * MIB

    data_dir = Path(tempfile.mkdtemp(prefix="plank-bench-"))
    env = {
        **os.environ,
        "PLANK_DATA_DIR": str(data_dir),
        "PLANK_SECRET_KEY": "bench-" + os.urandom(16).hex(),
        "PLANK_LOG_LEVEL": "WARNING",
        "PLANK_DATABASE_URL": "",
        "PLANK_REDIS_URL": "",
        "DJANGO_SETTINGS_MODULE": "plank.settings",
    }
    server: subprocess.Popen[bytes] | None = None
    try:
        print(f"data dir {data_dir}; writing a {args.size_mib} MiB file ...", flush=True)
        relative = "library/Bench (2024)/Bench (2024).mp4"
        video = data_dir / relative
        write_file(video, size)
        manage(env, "migrate", "--noinput", "-v", "0")
        ids = manage(
            env,
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model\n"
            "from media.models import MediaFile, Status, Title\n"
            f"get_user_model().objects.create_user({USERNAME!r}, 'bench@example.com', {PASSWORD!r})\n"
            "t = Title.objects.create(title='Bench', year=2024, status=Status.COMPLETE)\n"
            f"MediaFile.objects.create(title=t, role='video', path={relative!r}, size={size})\n"
            "print(t.pk)\n",
        )
        title_id = int(ids.strip().splitlines()[-1])
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "serve", "--web-only", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        wait_up(base, server)
        session = login(base)
        url = f"{base}/media/{title_id}/stream"
        pid = server.pid

        # the headers as daphne sends them
        head = session.head(url, timeout=10)
        assert head.status_code == 200 and head.headers["Content-Length"] == str(size), head.headers
        first = session.get(url, headers={"Range": "bytes=0-99"}, timeout=10)
        assert first.status_code == 206 and len(first.content) == 100, first.status_code
        assert first.headers["Content-Range"] == f"bytes 0-99/{size}", first.headers

        # warm the page cache, and check the bytes once
        disk_read(video)
        status, total = http_read(session, url)
        assert status == 200 and total == size, (status, total)

        print(f"\nfile: {args.size_mib} MiB, in the page cache; server: daphne, pid {pid}")
        print(f"{'what':<34} {'MiB/s':>9} {'server CPU s':>13} {'CPU s per GiB':>14}")

        def report(label: str, seconds: float, nbytes: int, cpu: float | None) -> None:
            rate = nbytes / MIB / seconds
            per_gib = f"{cpu / (nbytes / 1024**3):14.2f}" if cpu is not None else f"{'-':>14}"
            cpu_text = f"{cpu:13.2f}" if cpu is not None else f"{'-':>13}"
            print(f"{label:<34} {rate:9.0f} {cpu_text} {per_gib}", flush=True)

        rounds = 3
        start = time.perf_counter()
        for _ in range(rounds):
            disk_read(video)
        report("disk: os.pread 1 MiB", time.perf_counter() - start, rounds * size, None)

        cpu0, start = cpu_seconds(pid), time.perf_counter()
        for _ in range(rounds):
            requests_made, total = player_read(session, url, size)
            assert total == size, total
        report(
            f"HTTP 206 like a player ({requests_made} req)",
            time.perf_counter() - start,
            rounds * size,
            cpu_seconds(pid) - cpu0,
        )
        cpu0, start = cpu_seconds(pid), time.perf_counter()
        for _ in range(rounds):
            status, total = http_read(session, url)
            assert total == size and status == 200, (status, total)
        report(
            "HTTP 200 (no Range)",
            time.perf_counter() - start,
            rounds * size,
            cpu_seconds(pid) - cpu0,
        )

        rng = random.Random(7)
        big = 16 * MIB
        offsets = [rng.randrange(0, size - big) for _ in range(32)]
        cpu0, start = cpu_seconds(pid), time.perf_counter()
        for offset in offsets:
            status, total = http_read(session, url, {"Range": f"bytes={offset}-{offset + big - 1}"})
            assert status == 206 and total == big, (status, total)
        report(
            "HTTP 206, 32 x 16 MiB random",
            time.perf_counter() - start,
            len(offsets) * big,
            cpu_seconds(pid) - cpu0,
        )
        start = time.perf_counter()
        for offset in offsets:
            disk_read(video, offset, big)
        report("disk: same 32 x 16 MiB", time.perf_counter() - start, len(offsets) * big, None)

        small = 64 * 1024
        latencies = []
        cpu0 = cpu_seconds(pid)
        for _ in range(200):
            offset = rng.randrange(0, size - small)
            t0 = time.perf_counter()
            status, total = http_read(
                session, url, {"Range": f"bytes={offset}-{offset + small - 1}"}
            )
            latencies.append(time.perf_counter() - t0)
            assert status == 206 and total == small
        cpu = cpu_seconds(pid) - cpu0
        latencies.sort()
        print(
            f"\n200 x 64 KiB random ranges (a seek): median {statistics.median(latencies) * 1000:.1f} ms, "
            f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.1f} ms, "
            f"server CPU {cpu / len(latencies) * 1000:.1f} ms per request"
        )

        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        for header in ("bytes=0-", None):
            before, after, got = slow_reader(port, f"/media/{title_id}/stream", cookie, pid, header)
            print(
                f"stalled reader ({'Range: ' + header if header else 'no Range'}; read {got // 1024} KiB, "
                f"then stopped reading for 4 s): server RSS {before:.0f} MiB -> {after:.0f} MiB"
            )
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        if args.keep:
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
