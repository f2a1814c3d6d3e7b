"""A separate process for the cross-process tests of plank.live.cache (not a test module).

Run as ``python tests/live/cache_worker.py MODE --key PATH --dir DIR --counter NAME`` with
``DJANGO_SETTINGS_MODULE=plank.settings`` and ``PLANK_REDIS_URL`` set, so the default cache is the
shared Redis the test process also talks to. The fetcher counts its calls with a Redis ``INCR``
on ``--counter`` (one place all processes see).

- ``stampede``: set up, write ``DIR/ready-<pid>``, wait for ``DIR/go``, then fetch the key from
  ``--threads`` threads at once; print a JSON line with the values and this process's counters.
- ``hold``: fetch the key with a fetcher that writes ``DIR/holding-<pid>`` and then hangs: the
  process holds the cross-process lock until the test kills it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["stampede", "hold"])
    parser.add_argument("--key", required=True)
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--counter", required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--fetch-seconds", type=float, default=0.3)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plank.settings")
    import django

    django.setup()
    import redis
    from django.conf import settings

    from plank.live.cache import LiveCache
    from plank.live.keys import from_path

    counter = redis.Redis.from_url(settings.REDIS_URL)
    live = LiveCache("default", lease=args.lease)
    assert live.shared, "the default cache must be the shared Redis"
    key = from_path(args.key)
    pid = os.getpid()

    if args.mode == "hold":

        def hang() -> str:
            counter.incr(args.counter)
            (args.dir / f"holding-{pid}").touch()
            time.sleep(120)
            return "never"

        live.fetch(key, hang, stale=60, expire=600)
        return

    def fetcher() -> dict[str, object]:
        counter.incr(args.counter)
        time.sleep(args.fetch_seconds)
        return {"fetched_by": pid}

    (args.dir / f"ready-{pid}").touch()
    go = args.dir / "go"
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("never told to go")
        time.sleep(0.001)

    barrier = threading.Barrier(args.threads)
    values: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        result = live.fetch(key, fetcher, stale=60, expire=600)
        with lock:
            values.append(result.value)

    threads = [threading.Thread(target=run) for _ in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"pid": pid, "values": values, "stats": live.stats.snapshot()}), flush=True)


if __name__ == "__main__":
    main()
