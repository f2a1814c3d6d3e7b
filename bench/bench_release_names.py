"""The release-name parser measured on names labelled by public parser test suites.

    .venv/bin/python bench/bench_release_names.py [--rounds N] [--failures] [--part tuning|heldout]

Prints, for the tuning part and the held-out part of ``tests/media/fixtures/release_names/``
(``labelled.jsonl``, built by ``build.py`` there; the held-out part was never looked at while
the parser was tuned): the share of names with every field right (title, year, kind, season,
episodes, date), each field on its own, each source on its own, and the time per name of
``parse_release_name`` next to parsett alone (``PTT.parse_title``) on the same names in the same
run (CPU time, best of ``--rounds`` passes after a warm-up pass, the two taking turns).

``--failures`` lists the names of the tuning part it gets wrong, field by field;
``--failures --part heldout`` lists the held-out ones (for reading after a measurement, not for
tuning: a fix made from them makes the held-out figure a tuning figure).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import PTT  # noqa: E402

from media.release_names import parse_release_name  # noqa: E402
from tests.media.fixtures.release_names import labelled  # noqa: E402

PARTS = ("tuning", "heldout")


def score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """All-fields-right count, per-field counts, per-source (right, total), failures."""
    per_field: Counter[str] = Counter()
    per_source: dict[str, list[int]] = {}
    failures = []
    right = 0
    for row in rows:
        wrong = labelled.wrong_fields(parse_release_name(row["name"]), row)
        for field in labelled.FIELDS:
            per_field[field] += field not in wrong
        tally = per_source.setdefault(row["source"], [0, 0])
        tally[0] += not wrong
        tally[1] += 1
        right += not wrong
        if wrong:
            failures.append((row, wrong))
    return {"right": right, "fields": per_field, "sources": per_source, "failures": failures}


def per_name_us(
    parsers: dict[str, Callable[[str], Any]], names: list[str], rounds: int
) -> dict[str, float]:
    """CPU µs per name of each parser: best of ``rounds`` passes, the parsers taking turns pass
    by pass, timed with the process's CPU clock (the shared machine's load does not count)."""
    for parse in parsers.values():  # warm-up: regex caches, first-use compilation
        for name in names:
            parse(name)
    best = dict.fromkeys(parsers, float("inf"))
    for _ in range(rounds):
        for label, parse in parsers.items():
            start = time.process_time()
            for name in names:
                parse(name)
            best[label] = min(best[label], time.process_time() - start)
    return {label: seconds / len(names) * 1e6 for label, seconds in best.items()}


def pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%} ({part}/{whole})" if whole else "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="timing passes (the best is kept)")
    ap.add_argument("--failures", action="store_true", help="list the names it gets wrong")
    ap.add_argument("--part", choices=PARTS, default="tuning", help="whose failures to list")
    args = ap.parse_args(argv)

    rows = {part: labelled.load(part) for part in PARTS}
    results = {part: score(rows[part]) for part in PARTS}
    total = sum(len(r) for r in rows.values())
    print(f"Fixture: {labelled.LABELLED.relative_to(ROOT)}: {total} names")
    print(f"         tuning {len(rows['tuning'])}, held out {len(rows['heldout'])}\n")

    print("| | tuning | held out |")
    print("| --- | ---: | ---: |")
    cells = [pct(results[p]["right"], len(rows[p])) for p in PARTS]
    print(f"| **every field right** | {' | '.join(cells)} |")
    for field in labelled.FIELDS:
        cells = [pct(results[p]["fields"][field], len(rows[p])) for p in PARTS]
        print(f"| {field} | {' | '.join(cells)} |")

    print("\n| source | tuning | held out |")
    print("| --- | ---: | ---: |")
    sources = sorted({s for p in PARTS for s in results[p]["sources"]})
    for source in sources:
        cells = [pct(*results[p]["sources"].get(source, [0, 0])) for p in PARTS]
        print(f"| {source} | {' | '.join(cells)} |")

    names = [r["name"] for part in PARTS for r in rows[part]]
    times = per_name_us(
        {"ours": parse_release_name, "parsett": PTT.parse_title}, names, args.rounds
    )
    print(
        f"\nCPU time per name over all {len(names)} names (best of {args.rounds}): "
        f"parse_release_name {times['ours']:.0f} µs, parsett alone {times['parsett']:.0f} µs "
        f"(ours / parsett: {times['ours'] / times['parsett']:.2f})"
    )

    if args.failures:
        print(f"\n### wrong on the {args.part} part\n")
        for row, wrong in results[args.part]["failures"]:
            fields = ", ".join(f"{f} {got!r} (want {want!r})" for f, (got, want) in wrong.items())
            print(f"- {row['name']!r}: {fields}  [{row['source']}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
