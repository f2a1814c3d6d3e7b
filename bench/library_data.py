"""A library of real titles for the library benchmarks: MovieLens's movie list.

``bench/data/movielens-titles.csv`` holds the 86,537 titles of MovieLens's "ml-latest" list
(columns movieId,title,runtimeMinutes), as found in the public repository
ianL123/COMP0022-database_project (ml-latest/movies.csv). MovieLens's terms ask that the data
not be redistributed, so the file is not committed: fetch it to that path (or point
``BENCH_TITLES`` at a copy). Titles are tidied the way a library would show them:
"Matrix, The (1999)" becomes "The Matrix", 1999; an alternative name in parentheses becomes the
original title. Past 86,537 the same names come again as TV shows (a show and a film often share
a name), so 100,000 titles are all real names.

``data_dir(n)`` + ``ensure_seeded(n)`` give a data directory with ``n`` titles (built once).
"""

from __future__ import annotations

import csv
import os
import random
import re
import shutil
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TITLES = Path(os.environ.get("BENCH_TITLES", BENCH / "data" / "movielens-titles.csv"))
RESULTS = BENCH / "results"
_YEAR = re.compile(r"\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
_ALT = re.compile(r"\s*\(([^()]+)\)\s*$")
_ARTICLE = re.compile(r"^(.*), (The|A|An|Les|Le|La|L'|Il|Das|Der|Die|El)$")


def tidy(raw: str) -> tuple[str, str, int | None]:
    """(title, original title, year) of a MovieLens name."""
    year = None
    if match := _YEAR.search(raw):
        year = int(match.group(1))
        raw = raw[: match.start()]
    original = ""
    if (match := _ALT.search(raw)) and not match.group(1).lower().startswith("a.k.a"):
        original = match.group(1)
        raw = raw[: match.start()]
    elif match:
        raw = raw[: match.start()]

    def unflip(name: str) -> str:
        flipped = _ARTICLE.match(name.strip())
        if flipped:
            article = flipped.group(2)
            return f"{article}{'' if article.endswith(chr(39)) else ' '}{flipped.group(1)}"
        return name.strip()

    return unflip(raw)[:300], unflip(original)[:300], year


def read_titles() -> list[tuple[str, str, int | None]]:
    if not TITLES.exists():
        raise SystemExit(
            f"{TITLES} is missing: see bench/library_data.py for where the title list comes from"
        )
    with TITLES.open(newline="", encoding="utf-8") as handle:
        return [tidy(row["title"]) for row in csv.DictReader(handle) if row.get("title")]


def library(n: int) -> list[tuple[str, str, str, int | None]]:
    """``n`` (kind, title, original, year), films first, then the same names as shows."""
    names = read_titles()
    rows = [("movie", *name) for name in names]
    rows += [("tv", *name) for name in names]
    return rows[:n]


def seed(n: int) -> None:
    """Fill the configured (empty, migrated) database with ``n`` titles, in the order added."""
    # Imported here: Django is set up by the benchmark before it seeds.
    from django.db import transaction

    from media.models import Status, Title

    batch: list[Title] = []
    rng = random.Random(10)
    with transaction.atomic():
        for i, (kind, title, original, year) in enumerate(library(n)):
            batch.append(
                Title(
                    kind=kind,
                    title=title or f"Untitled {i}",
                    original_title=original,
                    year=year,
                    status=Status.COMPLETE,
                    quality=rng.choice(["1080p", "720p", "2160p", ""]),
                )
            )
            if len(batch) == 2000:
                Title.objects.bulk_create(batch)
                batch = []
        Title.objects.bulk_create(batch)


def data_dir(n: int) -> Path:
    """A data directory whose SQLite database holds ``n`` titles (built once, then reused:
    bench/results/library-<n>/). Call before Django is set up; it sets PLANK_DATA_DIR."""
    folder = RESULTS / f"library-{n}"
    os.environ["PLANK_DATA_DIR"] = str(folder)
    return folder


def ensure_seeded(n: int) -> None:
    """Migrate and seed the configured database unless done before."""
    # Imported here: Django is set up by the benchmark first.
    from django.core.management import call_command

    from media.models import Title

    call_command("migrate", "--noinput", verbosity=0)
    have = Title.objects.count()
    if have != n:
        Title.objects.all().delete()
        seed(n)


def fresh_copy(n: int, target: Path) -> None:
    shutil.copytree(RESULTS / f"library-{n}", target, dirs_exist_ok=True)
