"""Each pytest-xdist worker its own world: Redis database, key prefix and data folder.

Loaded with ``-p tests.workers`` (pyproject's addopts) so that it runs before pytest-django
imports the settings. Without it two workers share one Redis database, and a test's
``cache.clear()`` (``FLUSHDB``) wipes what the other worker's test just stored, its channel
layer's messages included; the shared data folder would mix their wake-up sockets and files.
Serial runs (no ``PYTEST_XDIST_WORKER``) are left exactly as configured.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _own_world(worker: str) -> None:
    number = int(worker.removeprefix("gw") or 0)
    if url := os.environ.get("PLANK_REDIS_URL"):
        found = re.search(r"/(\d+)$", url)
        base = int(found.group(1)) if found else 0
        stem = url[: found.start()] if found else url.rstrip("/")
        os.environ["PLANK_REDIS_URL"] = f"{stem}/{(base + number) % 16}"
    os.environ["PLANK_CACHE_PREFIX"] = f"{os.environ.get('PLANK_CACHE_PREFIX', 'plank')}-{worker}"
    data = os.environ.get("PLANK_DATA_DIR") or str(Path(__file__).resolve().parents[1] / "data")
    own = Path(data) / f"pytest-{worker}"
    own.mkdir(parents=True, exist_ok=True)
    os.environ["PLANK_DATA_DIR"] = str(own)


if WORKER:
    _own_world(WORKER)
