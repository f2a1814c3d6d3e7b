"""`manage.py serve` runs a whole Plank process that answers HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.live.live_server import BASE_DIR, MANAGE, base_env, free_port, manage


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
            except requests.ConnectionError:
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
