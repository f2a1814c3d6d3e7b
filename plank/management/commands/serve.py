"""``manage.py serve``: a whole Plank (HTTP, WebSocket, and the process parts).

``--workers N`` (default: the number of cores) runs N daphne processes on one port: this
process binds the port and supervises N children that share the listening socket (the kernel
hands each new connection to one of them). The engine, the scheduler and the jobs run in
exactly one child (worker 0), every child serves pages and sockets and runs a relay; a change
made in any of them reaches the sockets of all (docs/live-layer.md). A child that dies is
started again. With ``--workers 1`` everything runs in this one process, as before.

Only the engine knows a downloading file's pieces, so worker 0 also listens on a private
127.0.0.1 port that the supervisor binds, and the other workers pass such streams on to it
(``media/stream_forward.py``).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from plank.live import outlet
from plank.parts import Parts

log = logging.getLogger("plank.serve")

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
RESTART_DELAY = 1.0  # seconds before a dead worker is started again (doubling, up to 30 s)


def default_workers() -> int:
    return max(os.cpu_count() or 1, 1)


class Command(BaseCommand):
    help = "Serve Plank over HTTP and WebSocket (daphne), with the engine, relay and job worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--web-only",
            action="store_true",
            help="Serve pages and sockets only; the engine and jobs run in `manage.py engine`.",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="Daphne processes on the port (default: the number of cores).",
        )
        # Internal: a worker started by the supervisor, serving the socket it inherited.
        parser.add_argument("--fd", type=int, default=None, help="(internal) listening socket")
        parser.add_argument("--worker", type=int, default=0, help="(internal) worker number")
        parser.add_argument(
            "--engine-fd", type=int, default=None, help="(internal) worker 0's private socket"
        )
        parser.add_argument(
            "--engine-port", type=int, default=None, help="(internal) worker 0's private port"
        )

    def handle(
        self,
        *args,
        host: str,
        port: int,
        web_only: bool,
        workers: int | None = None,
        fd: int | None = None,
        worker: int = 0,
        engine_fd: int | None = None,
        engine_port: int | None = None,
        **options,
    ) -> None:
        workers = default_workers() if workers is None else workers
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if fd is None and workers > 1 and ":" in host:
            log.warning("several workers need an IPv4 address; serving %s in one process", host)
            workers = 1
        if fd is None and workers > 1:
            Supervisor(host, port, workers, web_only, self.stdout).run()
            return
        roles = {"web"} if web_only or worker > 0 else {"web", "engine"}
        if engine_port and "engine" not in roles:  # streams of downloading files: worker 0's
            settings.PLANK_STREAM_FORWARD = f"127.0.0.1:{engine_port}"
        self.serve(host, port, roles, fd=fd, worker=worker, engine_fd=engine_fd)

    def serve(
        self,
        host: str,
        port: int,
        roles: set[str],
        *,
        fd: int | None,
        worker: int,
        engine_fd: int | None = None,
    ) -> None:
        # daphne.server installs Twisted's asyncio reactor on import: import it first.
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from plank.asgi import application

        settings.PLANK_ROLES = frozenset(roles)
        parts = Parts(roles)
        parts.start()
        if fd is None:
            endpoints = build_endpoint_description_strings(host=host, port=port)
            self.stdout.write(
                f"Plank is serving on http://{host}:{port}/ ({', '.join(sorted(roles))})"
            )
        else:
            endpoints = [f"fd:fileno={fd}"]  # Twisted's parser takes IPv4 sockets only
            if engine_fd is not None:  # the other workers' streams of downloading files
                endpoints.append(f"fd:fileno={engine_fd}")
            log.info("worker %d (pid %d): %s", worker, os.getpid(), ", ".join(sorted(roles)))
        server = Server(
            application=application,
            endpoints=endpoints,
            signal_handlers=True,
            verbosity=0,
        )
        outlet.serving(server)  # the sockets find their connection for back-pressure
        # Fewer full collections: with a thousand open sockets, a full GC pause is the worst
        # latency spike on the live layer (measured in bench/bench_live.py).
        gc.set_threshold(50_000, 50, 100)
        try:
            server.run()
        finally:
            parts.stop()


class Supervisor:
    """Binds the port, runs the workers that share it, starts a dead one again, stops all."""

    def __init__(self, host: str, port: int, workers: int, web_only: bool, stdout) -> None:
        self.host, self.port, self.count, self.web_only = host, port, workers, web_only
        self.stdout = stdout
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.delays: dict[int, float] = {}
        self.stopping = False
        self.engine_sock: socket.socket | None = None

    def _listen(self, host: str, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.set_inheritable(True)
        return sock

    def _start(self, number: int, fd: int) -> None:
        command = [
            sys.executable,
            MANAGE,
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--fd",
            str(fd),
            "--worker",
            str(number),
            "--workers",
            "1",
        ]
        if self.web_only:
            command.append("--web-only")
        fds = [fd]
        if self.engine_sock is not None:  # worker 0 streams downloading files for the others
            command += ["--engine-port", str(self.engine_sock.getsockname()[1])]
            if number == 0:
                command += ["--engine-fd", str(self.engine_sock.fileno())]
                fds.append(self.engine_sock.fileno())
        self.children[number] = subprocess.Popen(command, pass_fds=fds)

    def _stop(self, *_: object) -> None:
        self.stopping = True

    def run(self) -> None:
        try:
            sock = self._listen(self.host.strip("[]"), self.port)
        except OSError as exc:
            raise CommandError(f"cannot listen on {self.host}:{self.port}: {exc}") from exc
        if not self.web_only:  # only the engine's worker can stream a file still downloading
            self.engine_sock = self._listen("127.0.0.1", 0)
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT)}
        roles = "web" if self.web_only else "web; engine, jobs in worker 0"
        self.stdout.write(
            f"Plank is serving on http://{self.host}:{self.port}/ ({self.count} workers: {roles})"
        )
        try:
            for number in range(self.count):
                self._start(number, sock.fileno())
            self._watch(sock.fileno())
        finally:
            self._shutdown()
            sock.close()
            if self.engine_sock is not None:
                self.engine_sock.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _watch(self, fd: int) -> None:
        restart_at: dict[int, float] = {}
        while not self.stopping:
            time.sleep(0.2)
            for number, child in list(self.children.items()):
                if child.poll() is None or number in restart_at:
                    continue
                delay = self.delays.get(number, RESTART_DELAY)
                log.warning(
                    "worker %d exited with %s; starting it again in %.0f s",
                    number,
                    child.returncode,
                    delay,
                )
                restart_at[number] = time.monotonic() + delay
                self.delays[number] = min(delay * 2, 30.0)
            for number, when in list(restart_at.items()):
                if time.monotonic() >= when and not self.stopping:
                    del restart_at[number]
                    self._start(number, fd)

    def _shutdown(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in self.children.values():
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=5)
