"""Library scans: a first scan and a re-scan of 1,000 and 10,000 files.

    .venv/bin/python bench/bench_scan.py [--sizes 1000,10000] [--keep]

In one run, in a throw-away data directory (SQLite, migrated):

- one tiny real video (PyAV, ``tests/media/library_dirs.py``), hard-linked as ``N`` films
  ``Film Xyz (1975)/Film.Xyz.1975.1080p.mkv`` (disk use stays a few hundred KiB whatever ``N``);
- for each size: the **first scan** (every file probed, titles made), then a **re-scan** of the
  unchanged folder (goal: 10,000 unchanged files in seconds), then a **full** re-scan (every file
  opened again), each in a fresh child process, reporting wall time, files per second, the
  child's peak resident memory (``ru_maxrss``) and its peak Python allocations (``tracemalloc``);
- at the smallest size, the first scan again with **one** probe worker beside the default
  (``PLANK_SCAN_PROBE_WORKERS``, the cores), to show what running the probes in parallel buys.

Two shared cores here; absolute figures are modest, the ratios are the point.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup(data: Path) -> None:
    """Django on a data directory of its own. Called from main() only: the scan's worker
    processes import this module again, and must not set anything up."""
    os.environ["PLANK_DATA_DIR"] = str(data / "data")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plank.settings")
    os.environ.setdefault("PLANK_LOG_LEVEL", "WARNING")
    os.environ["PLANK_CACHALOT"] = "0"  # a scan reads past the ORM cache anyway
    import django  # Django is set up here, not at import (see above)

    django.setup()


def _child(folder_id: int, full: bool, workers: int, out: multiprocessing.Queue) -> None:
    """One scan in a process of its own, so its peak memory is its own."""
    from django.conf import settings  # the models and settings exist only after setup()
    from django.db import connections

    from media.models import LibraryFolder
    from media.scan_queue import scan_folder

    settings.PLANK_SCAN_PROBE_WORKERS = workers
    tracemalloc.start()
    folder = LibraryFolder.objects.get(pk=folder_id)
    start = time.perf_counter()
    scan = scan_folder(folder, full=full, trigger="bench")
    seconds = time.perf_counter() - start
    _cur, peak = tracemalloc.get_traced_memory()
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put(
        {
            "seconds": seconds,
            "seen": scan.seen,
            "probed": scan.probed,
            "added": scan.added,
            "unchanged": scan.unchanged,
            "state": scan.state,
            "rss_mib": rss_kib / 1024,
            "py_mib": peak / 1024 / 1024,
        }
    )
    connections.close_all()


def run(folder: Any, *, full: bool = False, workers: int | None = None) -> dict:
    from django.conf import settings  # the settings exist only after setup()
    from django.db import connections

    connections.close_all()  # the child opens its own
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue = ctx.Queue()
    proc = ctx.Process(
        target=_child,
        args=(folder.pk, full, workers or int(settings.PLANK_SCAN_PROBE_WORKERS), out),
    )
    proc.start()
    result = out.get(timeout=3600)
    proc.join()
    if result["state"] != "done":
        raise SystemExit(f"the scan ended {result['state']}")
    return result


def row(label: str, n: int, r: dict) -> None:
    rate = n / r["seconds"] if r["seconds"] else float("inf")
    print(
        f"{label:<34} {n:>7,} {r['seconds']:>9.2f} {rate:>10,.0f} {r['probed']:>8,}"
        f" {r['rss_mib']:>9.1f} {r['py_mib']:>9.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    data = Path(tempfile.mkdtemp(prefix="plank-bench-scan-"))
    setup(data)
    # Django's models and the test helpers import only once Django is set up.
    from django.conf import settings
    from django.core.management import call_command

    from media.folders import remove_folder
    from media.models import LibraryFolder, MediaFile, Title
    from tests.media.library_dirs import masters, numbered_movies

    call_command("migrate", "--noinput", "-v", "0")
    media = masters(data / "masters")
    cores = int(settings.PLANK_SCAN_PROBE_WORKERS)
    print(f"probe workers: {cores} (cores: {os.cpu_count()}); data in {data}")
    print(
        f"{'':<34} {'files':>7} {'seconds':>9} {'files/s':>10} {'opened':>8}"
        f" {'peak RSS':>9} {'py peak':>9}"
    )
    print(f"{'':<34} {'':>7} {'':>9} {'':>10} {'':>8} {'MiB':>9} {'MiB':>9}")
    for n in sizes:
        root = data / f"films-{n}"
        numbered_movies(root, media, n, link=True)
        folder = LibraryFolder.objects.create(name=f"Films {n}", path=str(root), kind="movies")
        if n == min(sizes):
            one = run(folder, workers=1)
            row("first scan, 1 probe worker", n, one)
            remove_folder(folder)
            Title.objects.all().delete()
            folder = LibraryFolder.objects.create(name=f"Films {n}", path=str(root), kind="movies")
        first = run(folder)
        row(f"first scan, {cores} probe workers", n, first)
        if n == min(sizes):
            print(f"{'':<34} parallel probing: {one['seconds'] / first['seconds']:.2f}x faster")
        again = run(folder)
        row("re-scan, nothing changed", n, again)
        assert again["probed"] == 0 and again["unchanged"] == n
        full = run(folder, full=True)
        row("full re-scan (every file opened)", n, full)
        print(
            f"{'':<34} re-scan / first scan: {again['seconds'] / first['seconds']:.3f};"
            f" files in the library: {MediaFile.objects.filter(folder=folder).count():,}"
        )
    if not args.keep:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
