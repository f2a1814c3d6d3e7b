"""Real Plank server processes for the cross-process tests and the benchmark.

``start_server(env)`` runs ``manage.py serve`` (daphne, the relay, the other parts) on a free
port; ``control=True`` runs the same command through this module instead, which also reads
commands on its standard input and runs them *inside* the server process::

    emit media/list/movie download/42     -> "emitted <seq>"
    push download/42 {"progress": 0.5}    -> "pushed"
    flood 2000 3000 media/flood           -> "emitted <last seq>": 2000 rows of ~3000 bytes

so a test can make a change in one server and watch it reach the sockets of another.
Every process started here is killed by :meth:`Server.stop` (tests call it in teardown).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

BASE_DIR = Path(__file__).resolve().parents[2]
MANAGE = str(BASE_DIR / "manage.py")
PASSWORD = "a good long password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(data_dir: Path, **plank: str) -> dict[str, str]:
    """The environment of a Plank process: this one's, less any PLANK_* but those given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANK_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(BASE_DIR), os.environ.get("PYTHONPATH")])
            ),
            "PYTHONUNBUFFERED": "1",
            "PLANK_DATA_DIR": str(data_dir),
            "PLANK_SECRET_KEY": "cross-process-tests-" + "x" * 40,
            "PLANK_TORRENT_LISTEN": f"127.0.0.1:{free_port()}",
            "PLANK_LOG_LEVEL": "WARNING",
            # No test reaches the internet: the engine finds peers only through x.pe.
            "PLANK_TORRENT_DHT": "0",
            "PLANK_TORRENT_LSD": "0",
            "PLANK_TORRENT_UPNP": "0",
        }
    )
    env.update({f"PLANK_{k}": v for k, v in plank.items()})
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``manage.py <args>`` to completion; its stdout (fails loudly with its stderr)."""
    result = subprocess.run(
        [sys.executable, MANAGE, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def create_user(env: dict[str, str], username: str) -> int:
    code = (
        "from django.contrib.auth import get_user_model; "
        f"print(get_user_model().objects.create_user({username!r}, password={PASSWORD!r}).pk)"
    )
    return int(manage(env, "shell", "-c", code).strip().splitlines()[-1])


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    log_path: Path
    _lines: queue.Queue[str] = field(default_factory=queue.Queue)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/live/"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text()[-4000:]
        return ""

    def login(self, username: str, password: str = PASSWORD) -> str:
        """Log in through the login page, as a browser does; the session cookie's value."""
        with requests.Session() as session:
            page = session.get(f"{self.url}/accounts/login/", timeout=10)
            page.raise_for_status()
            token = session.cookies["csrftoken"]
            response = session.post(
                f"{self.url}/accounts/login/",
                data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                allow_redirects=False,
                timeout=10,
            )
            assert response.status_code == 302, response.text[:1000]
            return session.cookies["sessionid"]

    def command(self, line: str, timeout: float = 10) -> str:
        """Run a control command inside the server (``control=True`` servers only)."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = self._lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise TimeoutError(f"no answer to {line!r}; log:\n{self.log()}") from None
            if answer.startswith(("emitted ", "pushed", "error ")):
                if answer.startswith("error "):
                    raise RuntimeError(answer)
                return answer

    def emit(self, *paths: str) -> int:
        return int(self.command("emit " + " ".join(paths)).split()[1])

    def push(self, path: str, data: dict[str, Any]) -> None:
        self.command(f"push {path} {json.dumps(data)}")

    def stop(self) -> None:
        process = self.process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for stream in (process.stdin, process.stdout):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.close()


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.strip())


def start_server(
    env: dict[str, str],
    *,
    web_only: bool = False,
    control: bool = False,
    port: int | None = None,
    timeout: float = 30,
    workers: int = 1,
) -> Server:
    """Start a server (on a free port by default) and wait until it accepts connections.

    ``workers``: daphne processes (``serve --workers N``); one unless a test asks for more."""
    port = port or free_port()
    log_path = Path(env["PLANK_DATA_DIR"]) / f"serve-{port}.log"
    args = ["--port", str(port), "--workers", str(workers)] + (["--web-only"] if web_only else [])
    command = (
        [sys.executable, "-m", "tests.live.live_server", *args]
        if control
        else [sys.executable, MANAGE, "serve", *args]
    )
    log = log_path.open("w")
    process = subprocess.Popen(
        command,
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    log.close()
    server = Server(process, port, log_path)
    assert process.stdout is not None
    threading.Thread(target=_pump, args=(process.stdout, server._lines), daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log()}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            break
        if time.monotonic() > deadline:
            server.stop()
            raise TimeoutError(f"the server did not listen within {timeout}s:\n{server.log()}")
        time.sleep(0.1)
    return server


@contextlib.contextmanager
def running(env: dict[str, str], **kwargs: Any) -> Iterator[Server]:
    server = start_server(env, **kwargs)
    try:
        yield server
    finally:
        server.stop()


# --- the control wrapper: `python -m tests.live.live_server --port P [--web-only]` ----------


def _control_loop() -> None:
    # Imported here: this runs in the server process, once main() has set Django up.
    from django.db import close_old_connections

    from plank.live.events import emit, push
    from plank.live.keys import from_path

    for raw in sys.stdin:
        words = raw.split(maxsplit=2)
        if not words:
            continue
        try:
            if words[0] == "emit":
                seq = emit(*(from_path(p) for p in raw.split()[1:]))
                answer = f"emitted {seq}"
            elif words[0] == "flood":
                count, size, path = raw.split()[1:4]
                parts = max(int(size) // 24, 1)
                keys = [(*from_path(path), f"k{n:018d}") for n in range(parts)]
                for _ in range(int(count)):
                    seq = emit(*keys)
                answer = f"emitted {seq}"
            elif words[0] == "push":
                push(from_path(words[1]), json.loads(words[2]))
                answer = "pushed"
            else:
                answer = f"error unknown command {words[0]}"
        except Exception as exc:  # report, keep serving
            answer = f"error {exc!r}"
        finally:
            close_old_connections()
        print(answer, flush=True)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plank.settings")
    # Imported here: the tests import this module without setting Django up a second time.
    import django

    django.setup()
    from django.core.management import call_command

    threading.Thread(target=_control_loop, name="live-server-control", daemon=True).start()
    call_command("serve", *sys.argv[1:])


if __name__ == "__main__":
    main()
