"""Compare guessit and parsett on the hand-labelled release names and on the labelled set.

    .venv/bin/python bench/compare_release_parsers.py [--rounds N] [--failures]
        [--labelled heldout|tuning|none]

First, on a part of the labelled set built from public parser test suites
(``tests/media/fixtures/release_names/``, default: the held-out part), the share of names with
every field right (title, year, kind, season, episodes, date) for each contender.

For each parser it prints the share of names whose field matches the hand-written expectation
(tests/media/fixtures/release_names.json) and the time per name. Four contenders:

* ``guessit``   - guessit's output mapped onto our Release vocabulary (dev dependency only)
* ``parsett``   - parsett's output mapped onto the same vocabulary, no corrections
* ``guessit+layer`` - guessit behind our small cleaning/correction layer
  (``media.release_names.parse_with``)
* ``parsett+layer`` - ``media.release_names.parse_release_name``: parsett behind the same layer
  (what the app uses)

Both raw parsers get the raw name and the same effort of vocabulary mapping, so the numbers
compare the parsers, not the adapters. Titles are compared case-insensitively with punctuation
folded to spaces ("Spider-Man" == "spider man"); groups case-insensitively; other fields exactly.
Names marked ``"holdout": true`` were labelled after the correction layer was written and are
also scored on their own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import PTT  # noqa: E402
from guessit import guessit  # noqa: E402

from media.release_names import (  # noqa: E402
    Release,
    normalize_quality,
    parse_release_name,
    parse_with,
    release_from_parsett,
)
from tests.media.fixtures.release_names import labelled  # noqa: E402

FIXTURE = ROOT / "tests" / "media" / "fixtures" / "release_names.json"
FIELDS = ("title", "year", "kind", "season", "episodes", "quality", "source", "codec", "group")


# --------------------------------------------------------------------------- guessit adapter

_GUESSIT_CODECS = {
    "H.264": "x264",
    "H.265": "x265",
    "AV1": "AV1",
    "Xvid": "XviD",
    "DivX": "XviD",
    "MPEG-2": "MPEG",
}
_GUESSIT_TV = {"HDTV", "Ultra HDTV", "Digital TV", "TV", "Satellite", "Analog HDTV"}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _guessit_source(g: dict[str, Any]) -> str:
    source = (_as_list(g.get("source")) or [""])[0]
    other = set(map(str, _as_list(g.get("other"))))
    if "Remux" in other and source in ("", "Blu-ray", "Ultra HD Blu-ray"):
        return "Remux"
    if source in ("Blu-ray", "Ultra HD Blu-ray", "HD-DVD"):
        return "BluRay"
    if source == "Web":
        return "WEBRip" if "Rip" in other else "WEB-DL"
    if source in _GUESSIT_TV:
        return "HDTV"
    if source == "DVD":
        return "DVDRip" if "Rip" in other else "DVD"
    if source in ("Camera", "HD Camera"):
        return "CAM"
    if source in ("Telesync", "HD Telesync"):
        return "TS"
    if source in ("Telecine", "HD Telecine"):
        return "TC"
    if "Screener" in other:
        return "SCR"
    return ""


def release_from_guessit(g: dict[str, Any], name: str) -> Release:
    title = " ".join(str(t) for t in _as_list(g.get("title"))).strip()
    seasons = sorted({int(s) for s in _as_list(g.get("season")) if isinstance(s, int)})
    episodes = tuple(sorted({int(e) for e in _as_list(g.get("episode")) if isinstance(e, int)}))
    year = g.get("year")
    season = seasons[0] if seasons else None
    date = g.get("date")
    date = date.date() if isinstance(date, dt.datetime) else date
    date = date if isinstance(date, dt.date) else None
    return Release(
        title=title or name,
        year=year if isinstance(year, int) else None,
        kind="tv" if season is not None or episodes or date else "movie",
        season=season,
        episodes=episodes,
        quality=normalize_quality(str(g.get("screen_size") or "")),
        source=_guessit_source(g),
        codec=_GUESSIT_CODECS.get(str((_as_list(g.get("video_codec")) or [""])[0]), ""),
        group=" ".join(str(t) for t in _as_list(g.get("release_group"))),
        date=date,
        seasons=tuple(seasons),
    )


def parse_guessit(name: str) -> Release:
    return release_from_guessit(dict(guessit(name)), name)


def parse_parsett(name: str) -> Release:
    return release_from_parsett(PTT.parse_title(name), name)


def parse_guessit_layered(name: str) -> Release:
    return parse_with(parse_guessit, name)


PARSERS: dict[str, Callable[[str], Release]] = {
    "guessit": parse_guessit,
    "parsett": parse_parsett,
    "guessit+layer": parse_guessit_layered,
    "parsett+layer": parse_release_name,
}


# --------------------------------------------------------------------------- scoring


def fold_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def field_matches(field: str, got: Release, want: dict[str, Any]) -> bool:
    if field == "title":
        return fold_title(got.title) == fold_title(want["title"])
    if field == "group":
        return got.group.casefold() == want["group"].casefold()
    if field == "episodes":
        return list(got.episodes) == want["episodes"]
    return getattr(got, field) == want[field]


def load_fixture() -> list[dict[str, Any]]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def evaluate(
    parse: Callable[[str], Release], cases: list[dict[str, Any]], rounds: int
) -> tuple[dict[str, int], int, float, list[tuple[str, str, Any, Any]]]:
    """(correct count per field, names with every field right, µs per name, failures)."""
    for case in cases:  # warm-up: guessit builds its rebulk rules on first use
        parse(case["name"])
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for case in cases:
            parse(case["name"])
        best = min(best, time.perf_counter() - start)
    correct = dict.fromkeys(FIELDS, 0)
    all_right = 0
    failures: list[tuple[str, str, Any, Any]] = []
    for case in cases:
        try:
            got = parse(case["name"])
        except Exception as exc:  # a crash counts as wrong on every field
            failures.append((case["name"], "*", repr(exc), ""))
            continue
        ok = True
        for field in FIELDS:
            if field_matches(field, got, case):
                correct[field] += 1
            else:
                ok = False
                failures.append((case["name"], field, getattr(got, field), case[field]))
        all_right += ok
    return correct, all_right, best / len(cases) * 1e6, failures


def print_table(title: str, cases: list[dict[str, Any]], rounds: int, show_failures: bool) -> None:
    n = len(cases)
    results = {label: evaluate(fn, cases, rounds) for label, fn in PARSERS.items()}
    labels = list(PARSERS)
    print(f"### {title}: {n} names\n")
    print(f"| field | {' | '.join(labels)} |")
    print(f"| --- | {' | '.join('---:' for _ in labels)} |")
    for field in FIELDS:
        cells = [f"{results[lb][0][field] / n:.1%} ({results[lb][0][field]})" for lb in labels]
        print(f"| {field} | {' | '.join(cells)} |")
    cells = [f"{results[lb][1] / n:.1%} ({results[lb][1]})" for lb in labels]
    print(f"| **every field right** | {' | '.join(cells)} |")
    cells = [f"{results[lb][2]:.0f}" for lb in labels]
    print(f"| µs per name (best of {rounds}) | {' | '.join(cells)} |\n")
    if show_failures:
        for label in labels:
            print(f"#### {label}: wrong fields")
            for name, field, got, want in results[label][3]:
                print(f"- {name!r}: {field} got {got!r}, want {want!r}")
            print()


def print_labelled(part: str) -> None:
    """Every-field-right and per-field shares of the four contenders on a part of the labelled
    set (tests/media/fixtures/release_names; one pass, no timing: guessit takes ~8 ms a name)."""
    rows = labelled.load(part)
    print(f"### Labelled set, {part} part: {len(rows)} names\n")
    labels = list(PARSERS)
    right = dict.fromkeys(labels, 0)
    fields = {lb: dict.fromkeys(labelled.FIELDS, 0) for lb in labels}
    for row in rows:
        for lb in labels:
            try:
                wrong = labelled.wrong_fields(PARSERS[lb](row["name"]), row)
            except Exception:  # a crash counts as wrong on every field
                wrong = dict.fromkeys(labelled.FIELDS)
            right[lb] += not wrong
            for field in labelled.FIELDS:
                fields[lb][field] += field not in wrong
    n = len(rows)
    print(f"| field | {' | '.join(labels)} |")
    print(f"| --- | {' | '.join('---:' for _ in labels)} |")
    for field in labelled.FIELDS:
        print(f"| {field} | {' | '.join(f'{fields[lb][field] / n:.1%}' for lb in labels)} |")
    print(f"| **every field right** | {' | '.join(f'{right[lb] / n:.1%}' for lb in labels)} |\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="timing rounds (best is kept)")
    ap.add_argument("--failures", action="store_true", help="list every wrong field")
    ap.add_argument(
        "--labelled",
        choices=("heldout", "tuning", "none"),
        default="heldout",
        help="also compare on this part of the labelled set (default: the held-out part)",
    )
    args = ap.parse_args(argv)

    if args.labelled != "none":
        print_labelled(args.labelled)
    cases = load_fixture()
    print(f"Fixture: {FIXTURE.relative_to(ROOT)}\n")
    print_table("All names", cases, args.rounds, args.failures)
    # The hold-out names were labelled after the correction layer was written and never used to
    # tune it: the "+layer" columns on them are the honest estimate for unseen names.
    holdout = [c for c in cases if c.get("holdout")]
    if holdout:
        print_table("Hold-out names only", holdout, args.rounds, args.failures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
