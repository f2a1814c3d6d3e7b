"""`manage.py serve` runs a whole Plank process that answers HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from websockets.asyncio.client import connect

from tests.live.live_server import (
    BASE_DIR,
    MANAGE,
    Server,
    base_env,
    create_user,
    free_port,
    manage,
    running,
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of a Plank process on a migrated data directory in ``tmp_path``."""
    env = base_env(tmp_path)
    manage(env, "migrate", "--noinput", "-v", "0")
    return env


def test_serve_answers_and_stops_cleanly(env: dict[str, str]) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, MANAGE, "serve", "--port", str(port), "--web-only"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = requests.get(f"{base}/healthz", timeout=2)
                break
            except (requests.ConnectionError, requests.Timeout):  # workers still starting
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        assert response.status_code == 200 and response.text == "ok\n"
        # no user yet: the first-run page, with the stylesheet served by the same process
        first = requests.get(f"{base}/", timeout=5)
        assert first.url.endswith("/setup/") and "Create account" in first.text
        css = requests.get(f"{base}/static/plank/plank.css", timeout=5)
        assert css.status_code == 200 and "--accent" in css.text
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode is not None


# --- serve --workers N (issue 10) -------------------------------------------------------------


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(n) for n in text.split()]


def _command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


async def _sockets_hear_a_change_from_another_process(
    env: dict[str, str], server: Server, count: int = 24
) -> None:
    """``count`` sockets (spread over the workers by the kernel) each get an invalidation and
    a pushed value sent by a management command, i.e. by a process that serves none of them."""
    session = await asyncio.to_thread(server.login, "anna")
    sockets = [
        await connect(
            server.ws_url,
            origin=server.url,
            additional_headers={"Cookie": f"sessionid={session}"},
            open_timeout=15,
        )
        for _ in range(count)
    ]
    try:
        for ws in sockets:
            await ws.send(json.dumps({"type": "watch", "keys": [["media"], ["download", 5]]}))
        for ws in sockets:
            while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "hello":
                pass
        seq = int((await asyncio.to_thread(manage, env, "live_emit", "media/9")).split()[-1])
        push = "from plank.live.events import push; push(('download', 5), {'progress': 0.5})"
        await asyncio.to_thread(manage, env, "shell", "-c", push)
        for ws in sockets:
            frames = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(2)]
            assert {"type": "invalidate", "seq": seq, "keys": [["media", 9]]} in frames
            assert {"type": "set", "key": ["download", 5], "data": {"progress": 0.5}} in frames
    finally:
        for ws in sockets:
            await ws.close()


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_workers_share_the_port_with_the_engine_in_one(env: dict[str, str]) -> None:
    env = {**env, "PLANK_LOG_LEVEL": "INFO"}
    await asyncio.to_thread(create_user, env, "anna")
    with running(env, workers=2) as server:
        workers = _children(server.pid)
        assert len(workers) == 2
        roles = [_command_line(pid) for pid in workers]
        assert sorted(line[line.index("--worker") + 1] for line in roles) == ["0", "1"]
        for _ in range(10):
            assert requests.get(f"{server.url}/healthz", timeout=5).text == "ok\n"
        await _sockets_hear_a_change_from_another_process(env, server)
        # A worker that dies is started again, on the same port.
        os.kill(workers[1], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = _children(server.pid)
            if len(now) == 2 and workers[1] not in now:
                break
            time.sleep(0.2)
        assert len(_children(server.pid)) == 2
        log = server.log()
    assert log.count("engine, web") == 1  # the engine and the jobs in exactly one worker
    assert "Traceback" not in log


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(180)
async def test_workers_on_postgres_and_redis(scaled_env: dict[str, str]) -> None:
    await asyncio.to_thread(create_user, scaled_env, "anna")
    with running(scaled_env, workers=2) as server:
        assert len(_children(server.pid)) == 2
        await _sockets_hear_a_change_from_another_process(scaled_env, server)


def test_workers_must_be_positive(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, MANAGE, "serve", "--workers", "0"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "--workers must be at least 1" in result.stderr
