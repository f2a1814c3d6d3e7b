"""Load: 1,000 open sockets watching the library + 200 requests/s of mixed pages, on 127.0.0.1.

    .venv/bin/python bench/bench_load.py [--sockets 1000] [--rate 200] [--seconds 60]
        [--titles 2000] [--workers 2] [--before /tmp/plank-before] [--churn 10000]

A real ``manage.py serve`` (SQLite, the embedded default) on a library of real titles
(bench/library_data.py). For each server (this tree, and with ``--before`` an older tree run
the same way, in the same run) it measures, in order:

1. baseline: the server's RSS and open descriptors, idle with no socket;
2. idle sockets: ``--sockets`` sockets that say ``watch`` like a library page, then 10 s of
   nothing: the server's CPU (all its processes), and RSS per socket;
3. load with the sockets: ``--rate`` requests/s of mixed pages (the library, its grid partial,
   the TV tab, a title page, a search, the downloads page) for ``--seconds``, open loop (a
   request is sent every 1/rate s whether or not the others finished; at most 1,000 in flight):
   served/s, errors, p50/p99;
4. the same load with no socket beside it;
5. after: the sockets closed, 10 s later: the server's socket count (from /system/), RSS and
   descriptors on the database file, against the baseline;
6. ``--churn N``: N sockets opened and dropped (no close handshake) 100 at a time while frames
   are in flight, then count, RSS and descriptors again.

Goals (issue 10): 0 errors, p99 < 200 ms, idle CPU with 1,000 sockets < 5 %, memory per
socket < 50 KB. Bounded: every loop has a count and a deadline; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from tests.live.live_server import (  # noqa: E402 (after the path is set)
    PASSWORD,
    Server,
    base_env,
    start_server,
)

TICKS = os.sysconf("SC_CLK_TCK")
MAX_IN_FLIGHT = 1000


# --- the server's processes ------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    found = [pid]
    try:
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found += tree(int(child))
    except OSError:
        pass
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / TICKS


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def descriptors(pids: list[int], needle: str = "") -> int:
    count = 0
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                count += needle in target
        except OSError:
            pass
    return count


# --- HTTP, the plain way -----------------------------------------------------------------------


async def get(port: int, path: str, cookie: str, htmx: bool = False) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: sessionid={cookie}\r\n"
        if htmx:
            head += "HX-Request: true\r\n"
        writer.write((head + "Connection: close\r\n\r\n").encode())
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        while await reader.read(65536):
            pass
        return status
    finally:
        writer.close()


def mixed_paths(title_ids: list[int], words: list[str]) -> list[tuple[str, bool]]:
    rng = random.Random(7)
    paths: list[tuple[str, bool]] = []
    for _ in range(1000):
        pick = rng.random()
        if pick < 0.30:
            paths.append(("/", False))
        elif pick < 0.50:
            paths.append(("/?partial=grid&type=movie&sort=added&q=", True))
        elif pick < 0.60:
            paths.append(("/?type=tv", False))
        elif pick < 0.80:
            paths.append((f"/media/{rng.choice(title_ids)}/", False))
        elif pick < 0.92:
            paths.append((f"/search/?q={rng.choice(words)}&partial=suggest", True))
        else:
            paths.append(("/downloads/", False))
    return paths


async def load(port: int, cookie: str, paths: list, rate: float, seconds: float) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    in_flight: set[asyncio.Task[None]] = set()

    async def one(path: str, htmx: bool) -> None:
        start = time.perf_counter()
        try:
            status = await asyncio.wait_for(get(port, path, cookie, htmx), 10)
        except Exception as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        if status != 200:
            errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1
            return
        latencies.append(time.perf_counter() - start)

    loop = asyncio.get_running_loop()
    began = loop.time()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(began + n / rate - loop.time(), 0))
        if len(in_flight) >= MAX_IN_FLIGHT:
            errors["client overload"] = errors.get("client overload", 0) + 1
            continue
        task = loop.create_task(one(*paths[n % len(paths)]))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=15)
    elapsed = loop.time() - began
    ordered = sorted(latencies) or [0.0]
    return {
        "served_per_s": len(latencies) / elapsed,
        "errors": errors,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
    }


# --- sockets -------------------------------------------------------------------------------


async def open_sockets(server: Server, cookie: str, count: int) -> list:
    from websockets.asyncio.client import connect

    watch = json.dumps({"type": "watch", "keys": [["media", "list", "movie"], ["media", "counts"]]})

    async def one():
        ws = await connect(
            server.ws_url,
            origin=server.url,
            additional_headers={"Cookie": f"sessionid={cookie}"},
            open_timeout=60,
            ping_interval=None,  # like the page: it pings every 15 s (below)
            max_queue=None,
        )
        await ws.send(watch)
        return ws

    sockets = []
    for start in range(0, count, 100):
        sockets += await asyncio.gather(*(one() for _ in range(min(100, count - start))))
    return sockets


async def drain(sockets: list, stop: asyncio.Event) -> None:
    async def read(ws) -> None:
        try:
            async for _ in ws:
                if stop.is_set():
                    return
        except Exception:
            return

    async def ping() -> None:
        while not stop.is_set():
            await asyncio.sleep(15)
            for ws in sockets:
                try:
                    await ws.send('{"type":"ping"}')
                except Exception:
                    pass

    await asyncio.gather(*(read(ws) for ws in sockets), ping())


def system_count(server: Server, cookie: str) -> int:
    import requests

    page = requests.get(f"{server.url}/system/", cookies={"sessionid": cookie}, timeout=60)
    match = re.search(r"(\d+) sockets, seq", page.text)
    return int(match.group(1)) if match else -1


# --- one server -----------------------------------------------------------------------------


def manage(env: dict[str, str], *args: str) -> str:
    """``manage.py <args>`` of the tree under test (env["BENCH_TREE"])."""
    import subprocess

    tree_dir = env["BENCH_TREE"]
    out = subprocess.run(
        [sys.executable, str(Path(tree_dir) / "manage.py"), *args],
        cwd=tree_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return out.stdout


def prepare(tree_dir: Path, data: Path, titles: int) -> dict[str, str]:
    env = base_env(data, LOG_LEVEL="WARNING")
    env["PYTHONPATH"] = os.pathsep.join([str(tree_dir), str(BASE_DIR / "bench")])
    env["BENCH_TREE"] = str(tree_dir)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "shell", "-c", f"import library_data; library_data.seed({titles})")
    user = (
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_superuser('load', '', {PASSWORD!r})"
    )
    manage(env, "shell", "-c", user)
    return env


async def measure(label: str, tree_dir: Path, args: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix="plank-load-"))
    try:
        env = await asyncio.to_thread(prepare, tree_dir, data, args.titles)
        server = await asyncio.to_thread(_start, env, tree_dir, args.workers)
        try:
            await _measure(label, server, env, args)
        finally:
            server.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _start(env: dict[str, str], tree_dir: Path, workers: int) -> Server:
    if tree_dir == BASE_DIR:
        return start_server(env, workers=workers, timeout=60)
    # An older tree: its own manage.py, one process (it has no --workers).
    import subprocess

    from tests.live.live_server import free_port

    port = free_port()
    log = open(Path(env["PLANK_DATA_DIR"]) / "serve.log", "w")  # noqa: SIM115 (kept open)
    process = subprocess.Popen(
        [sys.executable, str(tree_dir / "manage.py"), "serve", "--port", str(port)],
        cwd=tree_dir,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    server = Server(process, port, Path(env["PLANK_DATA_DIR"]) / "serve.log")
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("the server did not listen")


def wait_ready(server: Server, timeout: float = 90) -> None:
    """Until a worker answers (the port accepts connections before the workers are up)."""
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{server.url}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


async def _measure(label: str, server: Server, env: dict[str, str], args) -> None:
    await asyncio.to_thread(wait_ready, server)
    cookie = await asyncio.to_thread(server.login, "load")
    for _ in range(3):  # warm up: imports, templates, caches
        await get(server.port, "/", cookie)
    await asyncio.sleep(5)  # the workers settle (migrations checked, parts started)
    pids = tree(server.pid)
    code = (
        "from media.models import Title; import json; "
        "print(json.dumps([list(Title.objects.values_list('id', flat=True)[:500]), "
        "[t.split()[0] for t in Title.objects.values_list('title', flat=True)[:300]]]))"
    )
    answer = await asyncio.to_thread(manage, env, "shell", "-c", code)
    ids, words = json.loads(answer.strip().splitlines()[-1])
    paths = mixed_paths(ids, [w for w in words if w.isalpha()] or ["the"])
    base_rss, base_db = rss_kib(pids), descriptors(pids, "plank.sqlite3")
    print(
        f"[{label}] {len(pids)} server processes, baseline RSS {base_rss / 1024:.0f} MiB, "
        f"{base_db} descriptors on the database",
        flush=True,
    )

    sockets = await open_sockets(server, cookie, args.sockets)
    stop = asyncio.Event()
    draining = asyncio.create_task(drain(sockets, stop))
    await asyncio.sleep(5)
    pids = tree(server.pid)
    rss_with = rss_kib(pids)
    cpu0 = cpu_seconds(pids)
    await asyncio.sleep(10)
    idle = (cpu_seconds(pids) - cpu0) / 10
    per_socket = (rss_with - base_rss) / max(args.sockets, 1)
    print(
        f"[{label}] {args.sockets} idle sockets: server CPU {idle:.1%} of one core, "
        f"{per_socket:.1f} KiB RSS per socket (goals < 5 %, < 50 KB)",
        flush=True,
    )

    for with_sockets in (True, False):
        if not with_sockets:
            stop.set()
            for ws in sockets:
                await ws.close()
            draining.cancel()
            await asyncio.sleep(3)
        result = await load(server.port, cookie, paths, args.rate, args.seconds)
        what = f"{args.sockets} sockets" if with_sockets else "no sockets"
        errors = sum(result["errors"].values())
        print(
            f"[{label}] {args.rate:.0f} req/s offered with {what}: served "
            f"{result['served_per_s']:.0f}/s, {errors} errors {result['errors'] or ''}, "
            f"p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms",
            flush=True,
        )

    await asyncio.sleep(10)
    pids = tree(server.pid)
    count = await asyncio.to_thread(system_count, server, cookie)
    print(
        f"[{label}] after: /system/ says {count} open sockets; RSS {rss_kib(pids) / 1024:.0f} "
        f"MiB (baseline {base_rss / 1024:.0f}); {descriptors(pids, 'plank.sqlite3')} "
        f"descriptors on the database (baseline {base_db})",
        flush=True,
    )

    if args.churn:
        await churn(server, cookie, env, args.churn)
        await asyncio.sleep(10)
        pids = tree(server.pid)
        count = await asyncio.to_thread(system_count, server, cookie)
        print(
            f"[{label}] after {args.churn} connects/drops: /system/ says {count} open "
            f"sockets; RSS {rss_kib(pids) / 1024:.0f} MiB (baseline {base_rss / 1024:.0f}); "
            f"{descriptors(pids, 'socket:')} sockets and "
            f"{descriptors(pids, 'plank.sqlite3')} database descriptors open",
            flush=True,
        )
    errors = [
        line for line in server.log().splitlines() if " ERROR " in line or "Traceback" in line
    ]
    print(f"[{label}] server log: {len(errors)} ERROR/Traceback lines", flush=True)


async def churn(server: Server, cookie: str, env: dict[str, str], total: int) -> None:
    """``total`` sockets opened and dropped 100 at a time, invalidations in flight."""
    emitting = True

    async def emitter() -> None:
        while emitting:
            await asyncio.to_thread(manage, env, "live_emit", "media/list/movie")
            await asyncio.sleep(0.2)

    task = asyncio.create_task(emitter())
    deadline = time.monotonic() + 900
    done = 0
    while done < total and time.monotonic() < deadline:
        batch = await open_sockets(server, cookie, min(100, total - done))
        await asyncio.sleep(0.1)
        for ws in batch:
            ws.transport.abort()
        done += len(batch)
    emitting = False
    await task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--titles", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--before", type=Path, default=None, help="an older tree to compare")
    parser.add_argument("--churn", type=int, default=0)
    args = parser.parse_args()
    runs = [("this tree", BASE_DIR)]
    if args.before:
        runs.insert(0, (f"before ({args.before})", args.before.resolve()))
    for label, tree_dir in runs:
        asyncio.run(measure(label, tree_dir, args))


if __name__ == "__main__":
    main()
