"""The library page at 1,000 / 10,000 / 100,000 real titles (MovieLens names, bench/library_data.py).

    .venv/bin/python bench/bench_library.py [--sizes 1000,10000,100000] [--rounds 15]

Per size, in a process of its own on an SQLite data directory built once in bench/results/:

- cold first page: every cache emptied before each request (rendered fragments and the ORM
  cache), p50 of the whole page through Django's middleware (session, login), the number of
  queries and the HTML size;
- hot first page: the same page again and again, fragments from the cache;
- requests per second of the hot grid partial (what a live refresh asks for) beside a bare view
  returning a fixed string through the same middleware, interleaved in the same run.

Goals (issue 10): first page p50 < 30 ms at 100k, at most 5 queries, HTML < 100 KB, the hot grid
at >= 70 % of the bare view's requests per second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def one(n: int, rounds: int) -> dict:
    from bench import library_data

    library_data.data_dir(n)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plank.settings")
    os.environ["PLANK_LOG_LEVEL"] = "ERROR"
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings
    from django.urls import clear_url_caches

    settings.ALLOWED_HOSTS = ["testserver", *settings.ALLOWED_HOSTS]
    library_data.ensure_seeded(n)
    users = get_user_model().objects
    user = users.filter(username="bench").first() or users.create_superuser("bench", "", "x" * 12)
    client = Client()
    client.force_login(user)
    client.get("/")  # warm imports, templates

    cold, queries, size = [], [], 0
    for _ in range(rounds):
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get("/")
            cold.append(time.perf_counter() - start)
        assert response.status_code == 200
        queries.append(len(captured.captured_queries))
        size = len(response.content)
    hot = []
    for _ in range(rounds * 10):
        start = time.perf_counter()
        client.get("/")
        hot.append(time.perf_counter() - start)
    with CaptureQueriesContext(connection) as captured:
        client.get("/")
    hot_queries = len(captured.captured_queries)

    with override_settings(ROOT_URLCONF="bench.bench_urls"):
        clear_url_caches()
        grid = {"partial": "grid"}
        headers = {"HTTP_HX_REQUEST": "true"}
        assert client.get("/", grid, **headers).status_code == 200
        assert client.get("/bench-bare/").content == b"ok"

        def rate(fn, seconds: float = 1.5) -> float:
            count, end = 0, time.perf_counter() + seconds
            while time.perf_counter() < end:
                fn()
                count += 1
            return count / seconds

        grid_rates, bare_rates = [], []
        for _ in range(3):
            grid_rates.append(rate(lambda: client.get("/", grid, **headers)))
            bare_rates.append(rate(lambda: client.get("/bench-bare/")))
    return {
        "titles": n,
        "cold_p50_ms": statistics.median(cold) * 1000,
        "cold_queries": max(queries),
        "hot_p50_ms": statistics.median(hot) * 1000,
        "hot_queries": hot_queries,
        "html_kb": size / 1024,
        "grid_rps": statistics.median(grid_rates),
        "bare_rps": statistics.median(bare_rates),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.rounds)))
        return
    print("library page (in-process, SQLite, MovieLens titles)")
    for n in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--rounds", str(args.rounds)],
            capture_output=True,
            text=True,
            cwd=BASE_DIR,
        )
        if out.returncode != 0:
            print(out.stderr[-3000:])
            raise SystemExit(1)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        ratio = r["grid_rps"] / r["bare_rps"]
        print(
            f"  {r['titles']:>7} titles: first page cold p50 {r['cold_p50_ms']:6.1f} ms "
            f"({r['cold_queries']} queries, {r['html_kb']:.0f} KB), hot p50 "
            f"{r['hot_p50_ms']:5.1f} ms ({r['hot_queries']} queries); hot grid "
            f"{r['grid_rps']:.0f} req/s vs bare view {r['bare_rps']:.0f} req/s = {ratio:.0%}",
            flush=True,
        )


if __name__ == "__main__":
    main()
