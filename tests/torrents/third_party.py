"""Real third-party BitTorrent clients for the tests and the swarm benchmark, from Debian's
packages: ``transmission-daemon`` 3.00 (driven over its JSON-RPC) and ``aria2c`` 1.36, plus a
small HTTP tracker on 127.0.0.1 so that clients which do not read ``x.pe`` from a magnet (both of
these) find each other.

Everything listens on 127.0.0.1 only, with DHT, local peer discovery, peer exchange and port
mapping off; every process started here is stopped by ``stop()`` (tests call it at teardown).

Where the formats come from:

- the tracker speaks BEP 3's announce (``GET /announce?info_hash=&peer_id=&port=...``, a
  bencoded dictionary back) with BEP 23's compact peer list (6 bytes per IPv4 peer);
- Transmission's RPC is its documented ``docs/rpc-spec.md`` of the 3.00 tree: a POST of
  ``{"method": ..., "arguments": ...}`` to ``/transmission/rpc``, answered 409 with an
  ``X-Transmission-Session-Id`` header until that header is sent back; ``torrent-add`` takes
  base64 ``metainfo`` and a ``download-dir``; ``torrent-get`` returns ``percentDone`` (0..1),
  ``status`` (6 = seeding), ``uploadedEver``, ``haveValid``;
- aria2c's options are its manual's (``--seed-ratio=0.0`` seeds whatever the ratio,
  ``--bt-tracker``, ``--listen-port``, ``--enable-dht=false``, ...).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import libtorrent as lt
import requests

TRANSMISSION = shutil.which("transmission-daemon")
ARIA2C = shutil.which("aria2c")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    until = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > until:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


# --------------------------------------------------------------------------- the tracker


class Tracker:
    """A BEP 3 HTTP tracker on 127.0.0.1 that hands every announcer the other peers of the same
    info hash (compact, BEP 23). ``url`` is its announce URL."""

    def __init__(self) -> None:
        self._peers: dict[bytes, dict[bytes, tuple[str, int]]] = {}
        self._lock = threading.Lock()
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                query = parse_qs(urlsplit(self.path).query, encoding="latin-1")
                try:
                    info_hash = query["info_hash"][0].encode("latin-1")
                    peer_id = query["peer_id"][0].encode("latin-1")
                    port = int(query["port"][0])
                except (KeyError, ValueError, IndexError):
                    self._answer({b"failure reason": b"bad announce"})
                    return
                stopped = query.get("event", [""])[0] == "stopped"
                self._answer(tracker.announce(info_hash, peer_id, port, stopped))

            def _answer(self, reply: dict[bytes, Any]) -> None:
                payload = lt.bencode(reply)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/announce"

    def announce(
        self, info_hash: bytes, peer_id: bytes, port: int, stopped: bool
    ) -> dict[bytes, Any]:
        with self._lock:
            swarm = self._peers.setdefault(info_hash, {})
            if stopped:
                swarm.pop(peer_id, None)
            else:
                swarm[peer_id] = ("127.0.0.1", port)
            others = [addr for pid, addr in swarm.items() if pid != peer_id]
        compact = b"".join(socket.inet_aton(ip) + port.to_bytes(2, "big") for ip, port in others)
        return {b"interval": 5, b"min interval": 2, b"peers": compact}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def torrent_file(info: Any, tracker: Tracker | None = None) -> bytes:
    """The .torrent of ``info`` (an ``lt.torrent_info``), announcing to ``tracker`` if given."""
    creator = lt.create_torrent(info)
    if tracker is not None:
        creator.add_tracker(tracker.url)
    return lt.bencode(creator.generate())


# --------------------------------------------------------------------------- transmission


class Transmission:
    """A ``transmission-daemon`` 3.00 of its own (config folder, RPC port, peer port)."""

    def __init__(self, home: Path, *, upload_kbps: int | None = None) -> None:
        if TRANSMISSION is None:
            raise RuntimeError("transmission-daemon is not installed (apt-get install it)")
        self.home = home
        self.config = home / "config"
        self.config.mkdir(parents=True, exist_ok=True)
        self.rpc_port = free_port()
        self.peer_port = free_port()
        settings = {
            "bind-address-ipv4": "127.0.0.1",
            "bind-address-ipv6": "::1",
            "dht-enabled": False,
            "lpd-enabled": False,
            "pex-enabled": False,
            "port-forwarding-enabled": False,
            "peer-port": self.peer_port,
            "peer-port-random-on-start": False,
            "rpc-enabled": True,
            "rpc-bind-address": "127.0.0.1",
            "rpc-port": self.rpc_port,
            "rpc-authentication-required": False,
            "rpc-whitelist-enabled": True,
            "rpc-whitelist": "127.0.0.1",
            "rpc-host-whitelist-enabled": False,
            "download-dir": str(home / "downloads"),
            "incomplete-dir-enabled": False,
            "ratio-limit-enabled": False,
            "idle-seeding-limit-enabled": False,
            "start-added-torrents": True,
            "speed-limit-up": upload_kbps or 0,
            "speed-limit-up-enabled": bool(upload_kbps),
            "message-level": int(os.environ.get("TR_LOG", "1")),
        }
        (self.config / "settings.json").write_text(json.dumps(settings))
        self.log_path = home / "transmission.log"
        self.process = subprocess.Popen(
            [TRANSMISSION, "-f", "-g", str(self.config), "-e", str(self.log_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._session_id = ""
        _wait(self._up, 20, "transmission-daemon's RPC")

    def _up(self) -> bool:
        try:
            self.rpc("session-get")
        except requests.RequestException:
            return False
        return True

    def rpc(self, method: str, **arguments: Any) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.rpc_port}/transmission/rpc"
        body = {"method": method, "arguments": arguments}
        for _ in range(3):
            response = requests.post(
                url, json=body, headers={"X-Transmission-Session-Id": self._session_id}, timeout=10
            )
            if response.status_code == 409:
                self._session_id = response.headers["X-Transmission-Session-Id"]
                continue
            response.raise_for_status()
            answer = response.json()
            if answer.get("result") != "success":
                raise RuntimeError(f"transmission {method}: {answer.get('result')}")
            return answer.get("arguments", {})
        raise RuntimeError("transmission kept asking for a session id")

    def add(self, torrent: bytes, download_dir: Path) -> int:
        """Add a .torrent whose data is (or will be) under ``download_dir``; its id."""
        answer = self.rpc(
            "torrent-add",
            metainfo=base64.b64encode(torrent).decode("ascii"),
            **{"download-dir": str(download_dir)},
        )
        added = answer.get("torrent-added") or answer.get("torrent-duplicate")
        return int(added["id"])

    def torrent(self, torrent_id: int) -> dict[str, Any]:
        fields = ["percentDone", "status", "uploadedEver", "haveValid", "peersConnected", "error"]
        found = self.rpc("torrent-get", ids=[torrent_id], fields=fields)["torrents"]
        return found[0] if found else {}

    def seed(self, torrent: bytes, content_dir: Path, timeout: float = 60) -> int:
        """Add a .torrent whose data is all in ``content_dir`` and wait until it seeds."""
        torrent_id = self.add(torrent, content_dir)
        _wait(
            lambda: (
                self.torrent(torrent_id).get("status") == 6
                and self.torrent(torrent_id).get("percentDone") == 1
            ),
            timeout,
            "transmission to verify and seed",
        )
        return torrent_id

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --------------------------------------------------------------------------- aria2


class Aria2:
    """An ``aria2c`` process downloading (then seeding) or seeding one .torrent."""

    def __init__(
        self,
        home: Path,
        torrent: bytes,
        download_dir: Path,
        *,
        upload_limit: str | None = None,
        seed: bool = True,
    ) -> None:
        if ARIA2C is None:
            raise RuntimeError("aria2c is not installed (apt-get install aria2)")
        home.mkdir(parents=True, exist_ok=True)
        self.torrent_path = home / "aria2.torrent"
        self.torrent_path.write_bytes(torrent)
        self.peer_port = free_port()
        self.log_path = home / "aria2.log"
        args = [
            ARIA2C,
            "--dir",
            str(download_dir),
            "--listen-port",
            str(self.peer_port),
            "--dht-listen-port",
            str(free_port()),
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--bt-require-crypto=false",
            "--check-integrity=true",
            "--bt-seed-unverified=false",
            "--seed-ratio=0.0" if seed else "--seed-time=0",
            "--bt-tracker-interval=5",
            "--file-allocation=none",
            "--summary-interval=0",
            "--console-log-level=warn",
            "--log",
            str(self.log_path),
            "--log-level=notice",
            "--allow-overwrite=true",
            "--auto-file-renaming=false",
        ]
        if upload_limit:
            args.append(f"--max-upload-limit={upload_limit}")
        args.append(str(self.torrent_path))
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=home
        )

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text()[-4000:]
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
