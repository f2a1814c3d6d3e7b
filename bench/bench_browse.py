"""The browse page, hot and cold, beside a plain Django view that uses ``cache.get_or_set``.

    .venv/bin/python bench/bench_browse.py [--delay-ms 80] [--threads 50] [--hot-requests 300]

In one run, in one process (threads driving Django's test ``Client``, so every request goes
through the real middleware, session, login wall, URL resolution, template and ORM):

- a throw-away data directory (SQLite, migrated), a user, the fake TMDB from the test suite
  (``tests/browse/fake_tmdb.py``) answering every request after ``--delay-ms``;
- **ours**: ``/browse/?type=trending&filter=movie`` (``browse.views.index``: the per-key cache);
- **plain**: the same page built the same way, the TMDB call wrapped in Django's
  ``cache.get_or_set`` instead (what a Django view would do without the live layer);
- for each: one cold request; sequential hot requests; ``--threads`` concurrent cold requests
  (the cache emptied first, a barrier releases them together); as many concurrent hot ones.
  Reported: TMDB calls made, latency (p50 / p95 / max) and wall time.

Two shared cores here: the threads and the fake server share them, so absolute figures are
modest; the comparison is the point.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["PLANK_DATA_DIR"] = tempfile.mkdtemp(prefix="plank-bench-browse-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plank.settings")
os.environ.setdefault("PLANK_LOG_LEVEL", "WARNING")

import logging  # noqa: E402

import django  # noqa: E402

django.setup()
# The plain view's stampede overflows requests' connection pool (16): said once here, not 100x.
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402

from browse import discover, views  # noqa: E402
from browse.discover import Fetched  # noqa: E402
from plank.live import cache as live_cache  # noqa: E402
from plank.models import get_preferences  # noqa: E402
from tests.browse.fake_tmdb import FAKE_API_KEY, FakeTMDB, start_fake_tmdb  # noqa: E402

OURS = "/browse/?type=trending&filter=movie"
PLAIN = "/bench/plain-browse/?type=trending&filter=movie"
UPSTREAM_PATH = "/trending/movie/week"


def plain_browse(request: HttpRequest) -> HttpResponse:
    """The same page, cached the way a plain Django view would: ``cache.get_or_set``."""
    params = views.Params.from_request(request)
    api = discover.client()
    page = cache.get_or_set(
        f"plain:trending:{params.filter}:{params.page}",
        lambda: api.trending(params.filter, params.page),  # type: ignore[arg-type]
        timeout=discover.LIST_STALE,
    )
    context = {
        "nav": "browse",
        **views._grid_context(params, Fetched(page)),
        **views._controls(params),
    }
    return render(request, "browse/index.html", context)


def install_urls() -> None:
    from plank import urls as plank_urls

    module = types.ModuleType("bench_browse_urls")
    module.urlpatterns = [path("bench/plain-browse/", plain_browse), *plank_urls.urlpatterns]  # type: ignore[attr-defined]
    sys.modules["bench_browse_urls"] = module
    settings.ROOT_URLCONF = "bench_browse_urls"
    from django.urls import clear_url_caches

    clear_url_caches()


def clients(user: object, n: int) -> list[Client]:
    out = []
    for _ in range(n):
        client = Client()
        client.force_login(user)  # type: ignore[arg-type]
        out.append(client)
    return out


def timed_get(client: Client, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    return elapsed


def concurrent(cs: list[Client], url: str) -> tuple[list[float], float]:
    """Latency of each request, and the wall time from the first start to the last end."""
    barrier = threading.Barrier(len(cs))
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def one(client: Client) -> None:
        try:
            barrier.wait()
            start = time.perf_counter()
            timed_get(client, url)
            end = time.perf_counter()
            with lock:
                spans.append((start, end))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one, args=(c,)) for c in cs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    wall = max(e for _, e in spans) - min(s for s, _ in spans)
    return [e - s for s, e in spans], wall


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return (
        f"p50 {statistics.median(values) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   "
        f"max {values[-1] * 1000:7.1f} ms"
    )


def reset(fake: FakeTMDB) -> None:
    cache.clear()
    live_cache.reset_stats()
    fake.clear_calls()


def run(
    name: str, url: str, fake: FakeTMDB, cs: list[Client], hot_requests: int
) -> dict[str, object]:
    calls: Callable[[], int] = lambda: len(fake.calls_to(UPSTREAM_PATH))  # noqa: E731
    reset(fake)
    cold = timed_get(cs[0], url)
    hot = [timed_get(cs[0], url) for _ in range(hot_requests)]
    sequential_calls = calls()

    reset(fake)
    cold_lat, cold_wall = concurrent(cs, url)
    cold_calls = calls()
    hot_lat, hot_wall = concurrent(cs, url)
    hot_calls = calls() - cold_calls
    return {
        "name": name,
        "cold": cold,
        "hot": hot,
        "sequential_calls": sequential_calls,
        "cold_lat": cold_lat,
        "cold_wall": cold_wall,
        "cold_calls": cold_calls,
        "hot_lat": hot_lat,
        "hot_wall": hot_wall,
        "hot_calls": hot_calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay-ms", type=float, default=80.0)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--hot-requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="repeat and keep every figure")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = ["testserver"]
    fake = start_fake_tmdb()
    fake.slow("*", args.delay_ms / 1000)
    settings.PLANK_TMDB_BASE_URL = fake.base_url
    prefs = get_preferences()
    prefs.tmdb_api_key = FAKE_API_KEY
    prefs.save()
    install_urls()
    user = get_user_model().objects.create_user("bench", "bench@example.com", "bench password 123")
    cs = clients(user, args.threads)

    print(
        f"browse page, fake TMDB answering after {args.delay_ms:.0f} ms;"
        f" {args.threads} concurrent clients; {os.cpu_count()} CPUs; Django test Client in-process"
    )
    results: dict[str, list[dict[str, object]]] = {"ours": [], "plain": []}
    for _ in range(args.rounds):
        results["ours"].append(run("ours", OURS, fake, cs, args.hot_requests))
        results["plain"].append(run("plain", PLAIN, fake, cs, args.hot_requests))
    fake.stop()

    for name, label in (
        ("ours", "ours  (live per-key cache)"),
        ("plain", "plain (cache.get_or_set) "),
    ):
        rows = results[name]
        cold = [r["cold"] for r in rows]
        hot = [x for r in rows for x in r["hot"]]  # type: ignore[union-attr]
        cold_lat = [x for r in rows for x in r["cold_lat"]]  # type: ignore[union-attr]
        hot_lat = [x for r in rows for x in r["hot_lat"]]  # type: ignore[union-attr]
        print(f"\n{label}")
        print(
            f"  1 cold request          {statistics.median(cold) * 1000:7.1f} ms (median of"  # type: ignore[arg-type]
            f" {len(cold)}), TMDB calls {[r['sequential_calls'] for r in rows]}"
        )
        print(f"  hot, sequential         {ms(hot)}   ({len(hot)} requests)")
        print(
            f"  {args.threads} concurrent, cold    {ms(cold_lat)}   wall"
            f" {statistics.median([r['cold_wall'] for r in rows]) * 1000:.0f} ms"  # type: ignore[misc]
            f"   TMDB calls per round {[r['cold_calls'] for r in rows]}"
        )
        print(
            f"  {args.threads} concurrent, hot     {ms(hot_lat)}   wall"
            f" {statistics.median([r['hot_wall'] for r in rows]) * 1000:.0f} ms"  # type: ignore[misc]
            f"   TMDB calls per round {[r['hot_calls'] for r in rows]}"
        )


if __name__ == "__main__":
    main()
