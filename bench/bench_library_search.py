"""Library search at 100,000 real titles (MovieLens names, bench/library_data.py), on SQLite.

    .venv/bin/python bench/bench_library_search.py [--titles 100000] [--queries 300]

Queries are made from titles held out of nothing in particular: a seeded random sample of the
library's own names, each giving a word (one of its words of 4+ letters), a prefix (the first
3-5 letters of such a word) and a typo (two neighbouring letters of a word of 6+ letters
swapped). Each query runs through ``media.search.search`` (FTS5, ranked, typo tolerant) and,
beside it in the same run, through the ``icontains`` filter the library used before
(``title``/``original_title``/``release_name`` ILIKE, first 20). Printed: p50/p95 in ms, and
how often the title the query came from is among the first 10 results ("found").

Goal (issue 10): p95 < 5 ms for a word, a prefix and a typo.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def queries(titles: list[tuple[int, str]], count: int, rng: random.Random) -> dict[str, list]:
    from media.search import fold

    made: dict[str, list[tuple[str, int]]] = {"word": [], "prefix": [], "typo": []}
    for pk, name in rng.sample(titles, min(len(titles), count * 4)):
        words = [w for w in fold(name).split() if len(w) >= 4 and w.isalpha()]
        if not words:
            continue
        word = rng.choice(words)
        if len(made["word"]) < count:
            made["word"].append((word, pk))
        if len(made["prefix"]) < count:
            made["prefix"].append((word[: rng.randint(3, min(5, len(word)))], pk))
        long = [w for w in words if len(w) >= 6]
        if long and len(made["typo"]) < count:
            w = rng.choice(long)
            i = rng.randrange(1, len(w) - 2)
            made["typo"].append((w[:i] + w[i + 1] + w[i] + w[i + 2 :], pk))
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--titles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    from bench import library_data

    library_data.data_dir(args.titles)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plank.settings")
    os.environ["PLANK_LOG_LEVEL"] = "ERROR"
    import django

    django.setup()
    from cachalot.api import cachalot_disabled
    from django.db.models import Q

    from media import search
    from media.models import Title

    library_data.ensure_seeded(args.titles)
    titles = list(Title.objects.values_list("id", "title"))
    made = queries(titles, args.queries, random.Random(2026))
    search.dictionary()  # the spelling dictionary is read once per process: not timed
    print(f"library search, {len(titles)} titles (SQLite FTS5), {args.queries} queries per kind")
    with cachalot_disabled():
        for kind, items in made.items():
            ours, theirs, found, found_icontains = [], [], 0, 0
            for text, pk in items:
                start = time.perf_counter()
                hits = search.search(text, limit=20).hits
                ours.append(time.perf_counter() - start)
                found += pk in [h.title.pk for h in hits[:10]]
                start = time.perf_counter()
                plain = list(
                    Title.objects.in_library()
                    .filter(
                        Q(title__icontains=text)
                        | Q(original_title__icontains=text)
                        | Q(release_name__icontains=text)
                    )
                    .values_list("id", flat=True)[:20]
                )
                theirs.append(time.perf_counter() - start)
                found_icontains += pk in plain[:10]
            n = len(items)
            print(
                f"  {kind:6}  search p50 {statistics.median(ours) * 1000:6.2f} ms  "
                f"p95 {p95(ours) * 1000:6.2f} ms  found {found / n:4.0%}   |   icontains p50 "
                f"{statistics.median(theirs) * 1000:6.2f} ms  p95 {p95(theirs) * 1000:6.2f} ms  "
                f"found {found_icontains / n:4.0%}",
                flush=True,
            )


if __name__ == "__main__":
    main()
