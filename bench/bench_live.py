"""Live layer benchmark: commit-to-frame latency and memory per open socket.

    .venv/bin/python bench/bench_live.py [--sockets 1,100,1000] [--only same,sqlite,pg]

Latency is measured from the emitting transaction's commit (an on_commit hook registered before
emit's own) to the moment each socket's client has the ``invalidate`` frame, over every
(socket, event) pair, with 1, 100 and 1,000 open sockets:

  same    one process: channels communicators on ``plank.asgi.application``, emit in a thread
          (SQLite, in-memory channel layer: the embedded default);
  sqlite  a ``serve --web-only`` process on SQLite, real WebSocket clients (websockets), the
          emitter another process (the relay polls every PLANK_RELAY_POLL_SECONDS);
  pg      the same on PostgreSQL + Redis (the relay LISTENs), a fresh database dropped after.

Both clocks are this machine's wall clock (time.time) for the cross-process runs. The clients
run in this process, on the same cores as the server: at 1,000 sockets part of the figure is
the client's own work of reading 1,000 frames. Memory per socket: the serve process's RSS after
the sockets are open and said hello, less before, over N. Goals: p99 < 10 ms same process,
< 250 ms SQLite cross-process, < 50 ms PostgreSQL + Redis cross-process at 1,000 sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

GOALS_MS = {"same": 10.0, "sqlite": 250.0, "pg": 50.0}
EVENTS = {1: 200, 100: 60, 1000: 30}


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return p50 * 1000, p99 * 1000, ordered[-1] * 1000


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def report(kind: str, n: int, samples: list[float], extra: str = "") -> dict[str, Any]:
    p50, p99, worst = percentiles(samples)
    goal = GOALS_MS[kind]
    verdict = "ok" if p99 < goal else "OVER GOAL"
    print(
        f"  {kind:6} {n:5} sockets  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  max {worst:7.2f} ms"
        f"  ({len(samples)} frames; goal p99 < {goal:g} ms: {verdict}){extra}",
        flush=True,
    )
    return {"kind": kind, "sockets": n, "p50_ms": p50, "p99_ms": p99, "max_ms": worst}


# --- clients: arrival times per seq --------------------------------------------------------


class Arrivals:
    """When each socket got each ``invalidate`` frame, by seq (readers call :meth:`frame`)."""

    def __init__(self, sockets: int, clock: Any) -> None:
        self.sockets = sockets
        self.clock = clock
        self.times: dict[int, list[float]] = collections.defaultdict(list)
        self.complete: dict[int, asyncio.Event] = collections.defaultdict(asyncio.Event)

    def frame(self, text: str, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        frame = json.loads(text)
        if frame.get("type") != "invalidate":
            return
        seq = frame["seq"]
        times = self.times[seq]
        times.append(now)
        if len(times) == self.sockets:
            self.complete[seq].set()

    async def wait(self, seq: int, committed: float, timeout: float = 30) -> list[float]:
        await asyncio.wait_for(self.complete[seq].wait(), timeout)
        out = [t - committed for t in self.times.pop(seq)]
        if os.environ.get("BENCH_DEBUG"):
            o = sorted(out)
            print(
                f"    seq {seq} committed {committed:.4f} min {o[0] * 1000:.1f} p50 {o[len(o) // 2] * 1000:.1f} max {o[-1] * 1000:.1f}"
            )
        return out


# --- same process ----------------------------------------------------------------------------


def bench_same_process(counts: list[int]) -> list[dict[str, Any]]:
    data_dir = tempfile.mkdtemp(prefix="plank-bench-")
    for name in ("PLANK_DATABASE_URL", "PLANK_REDIS_URL"):
        os.environ.pop(name, None)
    os.environ["PLANK_DATA_DIR"] = data_dir
    os.environ.setdefault("PLANK_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plank.settings")
    # Imported here: the environment above must be set before Django is, and the cross-process
    # runs must not set Django up in this process at all.
    import django

    django.setup()
    from channels.testing import WebsocketCommunicator
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client

    from plank.asgi import application
    from plank.live import hub
    from plank.live.events import emit

    call_command("migrate", "--noinput", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="a good long password")
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    headers = [(b"cookie", cookie.encode()), (b"origin", b"http://127.0.0.1")]
    connection.close()

    def emit_and_time(i: int) -> tuple[int, float]:
        committed: list[float] = []
        with transaction.atomic():
            transaction.on_commit(lambda: committed.append(time.perf_counter()))
            seq = emit(("bench", i))
        return seq or 0, committed[0]

    async def bare_socket(arrivals: Arrivals) -> tuple[asyncio.Queue[Any], asyncio.Task[Any]]:
        """What an ASGI server does for one WebSocket, minus the network."""
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        hello = asyncio.Event()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "path": "/ws/live/",
            "raw_path": b"/ws/live/",
            "query_string": b"",
            "headers": [*headers, (b"host", b"127.0.0.1")],
            "subprotocols": [],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.send":
                if hello.is_set():
                    arrivals.frame(message["text"])
                else:
                    hello.set()

        await inbox.put({"type": "websocket.connect"})
        task = asyncio.get_running_loop().create_task(application(scope, inbox.get, send))
        await asyncio.wait_for(hello.wait(), 30)
        return inbox, task

    async def run(n: int, harness: str) -> list[float]:
        loop = asyncio.get_running_loop()
        arrivals = Arrivals(n, time.perf_counter)
        readers: list[asyncio.Task[Any]] = []
        closers = []
        for _ in range(n):
            if harness == "bare":
                inbox, task = await bare_socket(arrivals)
                readers.append(task)
                closers.append(
                    lambda inbox=inbox: inbox.put_nowait(
                        {"type": "websocket.disconnect", "code": 1000}
                    )
                )
            else:
                c = WebsocketCommunicator(application, "/ws/live/", headers=headers)
                ok, _ = await c.connect(timeout=30)
                assert ok and json.loads(await c.receive_from(10))["type"] == "hello"

                async def read(c: WebsocketCommunicator = c) -> None:
                    while True:
                        arrivals.frame(await c.receive_from(3600))

                readers.append(loop.create_task(read()))
                closers.append(c)
        samples: list[float] = []
        for i in range(EVENTS.get(n, 30)):
            seq, committed = await loop.run_in_executor(None, emit_and_time, i)
            samples.extend(await arrivals.wait(seq, committed))
            await asyncio.sleep(random.uniform(0.002, 0.02))
        for task in readers:
            task.cancel()
        for closer in closers:
            if callable(closer):
                closer()
        await asyncio.gather(*readers, return_exceptions=True)
        for r in hub.relays():
            if r.loop is loop:
                await r.stop()
        return samples

    results = []
    for harness in ("bare", "communicator"):
        for n in counts:
            label = f"  [{harness}]"
            results.append(
                report("same", n, asyncio.run(run(n, harness)), label) | {"harness": harness}
            )
    return results


# --- across processes ----------------------------------------------------------------------

EMITTER = """
import sys, time
import django
django.setup()
from django.db import transaction
from plank.live.events import emit
for line in sys.stdin:
    committed = []
    with transaction.atomic():
        transaction.on_commit(lambda: committed.append(time.time()))
        seq = emit(("bench", int(line)))
    print(seq, repr(committed[0]), flush=True)
"""


class Emitter:
    """Another process that emits on demand and says when each emit committed."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", EMITTER],
            cwd=BASE_DIR,
            env={"DJANGO_SETTINGS_MODULE": "plank.settings", **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def emit(self, i: int) -> tuple[int, float]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{i}\n")
        self.process.stdin.flush()
        seq, committed = self.process.stdout.readline().split()
        return int(seq), float(committed)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class LeanSocket(asyncio.Protocol):
    """A minimal WebSocket client for many sockets in one process: no task per socket.

    The websockets library costs tens of microseconds of Python per frame and a task wake-up;
    with 1,000 sockets on the server's own two cores that client work, not the server, would
    set the figure. This one parses the few small frames the server sends in ``data_received``
    and stamps them with the time the bytes arrived.
    """

    def __init__(self, arrivals: Arrivals, host: str, path: str, headers: dict[str, str]) -> None:
        self.arrivals = arrivals
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            + "\r\n"
        ).encode()
        self.buffer = b""
        self.upgraded = False
        self.hello: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = self.arrivals.clock()
        self.buffer += data
        if not self.upgraded:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self.hello.set_exception(RuntimeError(head.decode(errors="replace")))
                return
            self.upgraded, self.buffer = True, rest
        while len(self.buffer) >= 2:
            opcode, size = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
            start = 2
            if size == 126:
                size, start = int.from_bytes(self.buffer[2:4], "big"), 4
            elif size == 127:
                size, start = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < start + size:
                return
            payload, self.buffer = self.buffer[start : start + size], self.buffer[start + size :]
            if opcode == 1:
                if not self.hello.done():
                    self.hello.set_result(None)  # the first frame is hello
                else:
                    self.arrivals.frame(payload.decode(), now)
            elif opcode == 9:  # ping -> pong (client frames are masked)
                self._write(0xA, payload)

    def _write(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert self.transport is not None and len(payload) < 126
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def close(self) -> None:
        if self.transport is not None:
            self._write(0x8, (1000).to_bytes(2, "big"))
            self.transport.close()


async def cross_process(kind: str, env: dict[str, str], counts: list[int]) -> list[dict[str, Any]]:
    # (tests.live.live_server and the clients below are imported only by the runs that use them.)
    from tests.live.live_server import create_user, running

    create_user(env, "bench")
    results = []
    with running(env, web_only=True, timeout=60) as server:
        session = server.login("bench")
        emitter = Emitter(env)
        loop = asyncio.get_running_loop()
        host = f"127.0.0.1:{server.port}"
        headers = {"Origin": server.url, "Cookie": f"sessionid={session}"}
        try:
            emitter.emit(-1)  # warm up: Django set up, connection open
            for n in counts:
                await asyncio.sleep(1.0)
                before = rss_kib(server.pid)
                arrivals = Arrivals(n, time.time)
                sockets: list[LeanSocket] = []
                for start in range(0, n, 50):
                    batch = []
                    for _ in range(start, min(n, start + 50)):
                        sock = LeanSocket(arrivals, host, "/ws/live/", headers)
                        batch.append(
                            loop.create_connection(lambda sock=sock: sock, "127.0.0.1", server.port)
                        )
                        sockets.append(sock)
                    await asyncio.gather(*batch)
                await asyncio.wait_for(asyncio.gather(*(s.hello for s in sockets)), 60)
                await asyncio.sleep(1.0)
                after = rss_kib(server.pid)
                samples: list[float] = []
                for i in range(EVENTS.get(n, 30)):
                    seq, committed = await loop.run_in_executor(None, emitter.emit, i)
                    samples.extend(await arrivals.wait(seq, committed))
                    # A random pause: changes do not arrive in step with the relay's poll.
                    await asyncio.sleep(random.uniform(0.01, 0.15))
                per_socket = (after - before) / n
                results.append(
                    report(
                        kind,
                        n,
                        samples,
                        f"  RSS +{after - before} KiB = {per_socket:.1f} KiB/socket",
                    )
                    | {"kib_per_socket": per_socket}
                )
                for sock in sockets:
                    sock.close()
        finally:
            emitter.close()
    return results


def bench_sqlite(counts: list[int]) -> list[dict[str, Any]]:
    from tests.live.live_server import base_env, manage

    env = base_env(Path(tempfile.mkdtemp(prefix="plank-bench-sqlite-")))
    manage(env, "migrate", "--noinput", "-v0")
    return asyncio.run(cross_process("sqlite", env, counts))


def bench_postgres(counts: list[int]) -> list[dict[str, Any]]:
    import psycopg
    import redis

    from tests.live.live_server import base_env, manage

    server = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
    name = f"plank_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
        redis.Redis.from_url(redis_url).ping()
    except Exception as exc:
        print(f"  pg     skipped: {exc}")
        return []
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        env = base_env(
            Path(tempfile.mkdtemp(prefix="plank-bench-pg-")),
            DATABASE_URL=server.rsplit("/", 1)[0] + f"/{name}",
            REDIS_URL=redis_url,
            CACHE_PREFIX=name,
        )
        manage(env, "migrate", "--noinput", "-v0")
        return asyncio.run(cross_process("pg", env, counts))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        r = redis.Redis.from_url(redis_url)
        for key in r.scan_iter(f"{name}*"):
            r.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", default="1,100,1000")
    parser.add_argument("--only", default="same,sqlite,pg")
    args = parser.parse_args()
    counts = [int(n) for n in args.sockets.split(",")]
    kinds = args.only.split(",")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"live layer: commit-to-frame latency, {os.cpu_count()} cores", flush=True)
    # The cross-process runs first: the same-process one sets Django up in this process.
    results: list[dict[str, Any]] = []
    if "sqlite" in kinds:
        results += bench_sqlite(counts)
    if "pg" in kinds:
        results += bench_postgres(counts)
    if "same" in kinds:
        # In a thread of its own so Django's async-unsafe checks see no running loop here.
        out: list[list[dict[str, Any]]] = []
        thread = threading.Thread(target=lambda: out.append(bench_same_process(counts)))
        thread.start()
        thread.join()
        results += out[0] if out else []
    if os.environ.get("BENCH_JSON"):
        Path(os.environ["BENCH_JSON"]).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
