"""plank/templatetags/formats.py: sizes, speeds, times left and percentages, the same text as
static/plank/live.js writes after a live update.

The JavaScript side is live.js itself: its ``bytes``, ``eta`` and ``format`` functions are cut out
of the file as they are and run with node on the same values the filters render here.
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.template import Context, Template

from plank.templatetags import formats

LIVE_JS = Path(__file__).resolve().parents[2] / "static" / "plank" / "live.js"
NODE = shutil.which("node")

# The filter for each data-format live.js knows.
HOWS = {"bytes": "bytes", "rate": "rate", "eta": "eta", "percent": "percent"}

KB, MB, GB, TB, PB = (1024**n for n in range(1, 6))
NUMBERS: list[object] = [
    0,
    1,
    0.5,  # Math.round: halves go up
    2.5,
    -2.5,
    99,
    1023,
    1023.5,
    1024,
    1280,  # 1.25 KB: toFixed(1) says 1.3 (Python's "%.1f" would say 1.2)
    1536,
    10 * KB - 1,
    99.94 * KB,
    99.95 * KB,
    100 * KB - 1,
    100 * KB,
    512 * KB + 1,
    1.05 * MB,
    1.15 * MB,
    5.55 * MB,
    734_003_200,
    4.7 * GB,
    1.5 * TB,
    123.456 * PB,
    3 * 1024 * PB,  # past the last unit
    -2048,
    0.001,
    0.034,
    0.0999,
    0.1,
    0.125,
    0.005,  # 0.5 %: toFixed(1) of the exact binary value
    0.995,
    1,
    1.5,
    -0.001,
    59.4,
    59.5,
    60,
    61,
    3599.5,
    3600,
    3661,
    86399,
    86400,
    90061,
    10 * 86400 + 7200,
    -1,
    "12",
    " 3072 ",
    "",
    "0x400",
    "abc",
    "1_000",
    "Infinity",
    "NaN",
    True,
    None,
]

EXTRACT = re.compile(r"^\s*function (bytes|eta|format)\(", re.MULTILINE)


def _function_source(text: str, start: int) -> str:
    """The text of the JavaScript function that starts at ``start``, to its closing brace."""
    depth, i = 0, text.index("{", start)
    while True:
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
        i += 1


def live_js_format(values: list[object]) -> list[dict[str, str]]:
    """live.js's ``format(value, how)`` for every value and every format, run by node."""
    text = LIVE_JS.read_text()
    sources = {m.group(1): _function_source(text, m.start()) for m in EXTRACT.finditer(text)}
    assert set(sources) == {"bytes", "eta", "format"}, "live.js's formatting functions moved"
    script = "\n".join(sources.values()) + (
        "\nconst values = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        f"\nconst hows = {json.dumps(list(HOWS))};"
        "\nconsole.log(JSON.stringify(values.map("
        "v => Object.fromEntries(hows.map(h => [h, format(v, h)])))));"
    )
    result = subprocess.run(
        [NODE, "-e", script],
        input=json.dumps(values),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)


def rendered(value: object, name: str) -> str:
    return Template("{% load formats %}{{ v|" + name + " }}").render(Context({"v": value}))


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_every_filter_writes_what_live_js_writes() -> None:
    expected = live_js_format(NUMBERS)
    mismatches = []
    for value, js in zip(NUMBERS, expected, strict=True):
        for how, name in HOWS.items():
            ours = rendered(value, name)
            if ours != js[how]:
                mismatches.append(f"{name}({value!r}): template {ours!r}, live.js {js[how]!r}")
    assert mismatches == []


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_same_on_many_random_values() -> None:
    draw = random.Random(12)
    values: list[object] = []
    for _ in range(400):
        exponent = draw.uniform(0, 17)
        values.append(round(10**exponent, draw.choice([0, 1, 2, 3])))
        values.append(draw.uniform(0, 1))
        values.append(draw.randrange(0, 400_000))
    expected = live_js_format(values)
    for value, js in zip(values, expected, strict=True):
        for how, name in HOWS.items():
            assert getattr(formats, name if name != "bytes" else "bytes_")(value) == js[how], (
                name,
                value,
            )


@pytest.mark.parametrize(
    ("value", "name", "text"),
    [
        (0, "rate", "0 B/s"),  # the title page said "0 bytes/s" at load, "0 B/s" live
        (1536, "bytes", "1.5 KB"),
        (1280, "bytes", "1.3 KB"),
        (734_003_200, "bytes", "700 MB"),
        (250, "eta", "4m 10s"),
        (None, "eta", "—"),
        (-1, "eta", "∞"),
        (0.42, "percent", "42%"),
        (0.034, "percent", "3.4%"),
        (math.inf, "bytes", "—"),
        ("abc", "rate", "—"),
    ],
)
def test_what_people_see(value: object, name: str, text: str) -> None:
    assert rendered(value, name) == text
