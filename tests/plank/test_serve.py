"""`manage.py serve` runs a whole Plank process that answers HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    env = os.environ | {"PLANK_DATA_DIR": str(tmp_path)}
    env.pop("PLANK_DATABASE_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    return tmp_path


def test_serve_answers_and_stops_cleanly(data_dir: Path) -> None:
    port = free_port()
    env = os.environ | {"PLANK_DATA_DIR": str(data_dir)}
    env.pop("PLANK_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--web-only"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
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
