"""Real library folders for the scan, watch and folder tests (and the scan benchmark).

A handful of real videos are made once with PyAV (``masters``); every file of a test folder is
a copy of one with a few unique bytes appended (players ignore them; the partial hash sees
them), so each file is its own file and a folder of hundreds costs a few megabytes. Names come
from the labelled release names (``tests/media/fixtures/release_names.json``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.media.videos import make_video

FIXTURE = Path(__file__).parent / "fixtures" / "release_names.json"
BASE_DIR = Path(__file__).resolve().parents[2]
SRT = "1\n00:00:00,500 --> 00:00:01,500\nHello there.\n\n2\n00:00:01,600 --> 00:00:02,000\nBye.\n"


def labelled() -> list[dict]:
    return json.loads(FIXTURE.read_text())


def masters(folder: Path) -> dict[str, Path]:
    """One tiny real video of each kind a scan meets (made once per folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {
        "mp4": dict(container="mp4"),
        "mkv": dict(container="mkv"),
        "hevc": dict(container="mkv", vcodec="hevc"),
        "webm": dict(container="webm", vcodec="vp9", acodec="opus"),
    }
    made = {}
    for name, options in wanted.items():
        path = folder / f"master-{name}.{options['container']}"
        if not path.exists():
            make_video(path, seconds=0.5, size=(64, 48), fps=6, **options)  # type: ignore[arg-type]
        made[name] = path
    return made


_serial = [0]


def place(master: Path, dest: Path, *, tail: bytes | None = None) -> Path:
    """A copy of ``master`` at ``dest`` with unique trailing bytes (its own partial hash)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(master, dest)
    _serial[0] += 1
    with dest.open("ab") as fh:
        fh.write(tail if tail is not None else f"plank-test-{_serial[0]:08d}".encode())
    return dest


def subtitle(dest: Path, text: str = SRT) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
    return dest


@dataclass(frozen=True)
class Expected:
    rel: str
    title: str
    year: int | None
    season: int | None = None
    episode: int | None = None


def movie_folder(root: Path, media: dict[str, Path], count: int) -> list[Expected]:
    """``count`` labelled movies, each in ``Title (Year)/<release name>.<ext>``."""
    out = []
    movies = [r for r in labelled() if r["kind"] == "movie" and r["year"] and "/" not in r["title"]]
    for n, row in enumerate(movies[:count]):
        kind = ("mp4", "mkv")[n % 2]
        folder = f"{row['title']} ({row['year']})"
        rel = f"{folder}/{row['name'].replace('/', ' ')}.{'mp4' if kind == 'mp4' else 'mkv'}"
        place(media[kind], root / rel)
        out.append(Expected(rel, row["title"], row["year"]))
    return out


def word(n: int) -> str:
    """0 -> "Aa", 1 -> "Ab", ...: a made-up word per number (titles a parser reads as titles)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = ""
    n += 26
    while n:
        n, r = divmod(n, 26)
        out = letters[r] + out
    return out.capitalize()


def numbered_movies(root: Path, media: dict[str, Path], count: int, *, link: bool = False) -> None:
    """``count`` made-up films, ``Film Aab (1975)/Film.Aab.1975.1080p.mkv``; hard links of one
    video when ``link`` (all the same bytes: for benchmarks, where nothing moves)."""
    for n in range(count):
        year = 1950 + n % 70
        name = f"Film {word(n)}"
        dest = root / f"{name} ({year})" / f"{name.replace(' ', '.')}.{year}.1080p.mkv"
        if link:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.link(media["mkv"], dest)
        else:
            place(media["mkv"], dest)


def show_folder(root: Path, media: dict[str, Path], count: int) -> list[Expected]:
    """``count`` labelled episodes, each in ``Show/Season NN/<release name>.mkv``."""
    out = []
    episodes = [
        r
        for r in labelled()
        if r["kind"] == "tv" and r["season"] is not None and r["episodes"] and "/" not in r["title"]
    ]
    for row in episodes[:count]:
        show = row["title"] + (f" ({row['year']})" if row["year"] else "")
        rel = f"{show}/Season {row['season']:02d}/{row['name'].replace('/', ' ')}.mkv"
        place(media["mkv"], root / rel)
        out.append(Expected(rel, row["title"], row["year"], row["season"], row["episodes"][0]))
    return out


def unprivileged(cmd: Sequence[str]) -> list[str]:
    """``cmd`` run as an ordinary user: the tests run as root, who reads every file whatever
    its mode, so an unreadable file is unreadable only to a process without root's powers.
    ``unshare --user`` maps this (root) user to uid 1000 inside a new user namespace: files
    stay ours (owner bits apply, so the database is writable) and ``chmod 000`` bites."""
    return ["unshare", "--user", "--map-user=1000", "--map-group=1000", *cmd]


def manage(env: dict[str, str], *args: str, as_user: bool = False, timeout: float = 120) -> str:
    cmd = [sys.executable, str(BASE_DIR / "manage.py"), *args]
    result = subprocess.run(
        unprivileged(cmd) if as_user else cmd,
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-4000:]}"
        )
    return result.stdout


def process_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANK_")}
    env.update(
        {
            "PLANK_DATA_DIR": str(data_dir),
            "PLANK_DATABASE_URL": database_url,
            "PLANK_SECRET_KEY": "scan-tests-" + "x" * 40,
            "PLANK_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name in ("PLANK_REDIS_URL",):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update({f"PLANK_{k}": v for k, v in extra.items()})
    return env
