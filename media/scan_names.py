"""What a file in a library folder is, from its name and the names of the folders it is in.

The shared release-name parser (``media.release_names``) reads each name; the folders help:

- movies: ``The Matrix (1999)/The.Matrix.1999.1080p.mkv`` or ``The Matrix (1999)/CD1/part1.avi``
  take the title and year from the nearest folder with a real name when it has a year (the
  curated name, as Plex, Jellyfin and Radarr lay films out) or the file's own name is generic;
- shows: the first folder under the library folder is the show (``Breaking Bad (2008)/``), a
  ``Season 01`` / ``S01`` / ``Specials`` folder gives the season when the file name has none,
  and a file with no episode number is an extra of its show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath

from media.release_names import Release, parse_release_name

MOVIE, TV = "movie", "tv"  # media.models.Kind's values; no models here: scan workers import this

_SEASON_DIR = re.compile(
    r"^(?:season|series|saison|staffel|temporada|stagione|s)[ ._-]*(\d{1,3})(?:\D|$)", re.I
)
_SPECIALS_DIR = re.compile(r"^(?:specials?|season[ ._-]*0+|s0+)$", re.I)
_EXTRAS_DIR = re.compile(
    r"^(?:extras?|featurettes?|behind the scenes|deleted scenes|bonus|trailers?)$", re.I
)
_GENERIC = re.compile(
    r"^(?:cd|disc|disk|dvd|part|pt)[ ._-]*\d{1,2}$|^(?:video|movie|film|main|feature|untitled)$",
    re.I,
)
_EPISODE_CODE = re.compile(r"(?:^|[^a-z0-9])s\d{1,2}[ ._-]?e\d{1,3}", re.I)
_SAMPLE = re.compile(r"(?:^|[ ._\-\[(])sample(?:$|[ ._\-\])])", re.I)


@dataclass(frozen=True)
class Identity:
    kind: str
    title: str
    year: int | None
    season: int | None = None
    episodes: tuple[int, ...] = ()
    note: str = ""

    @property
    def episode(self) -> int | None:
        return self.episodes[0] if self.episodes else None

    @property
    def is_extra(self) -> bool:
        return self.kind == TV and self.episode is None

    def describe(self) -> str:
        """``Breaking Bad S01E02``, ``The Matrix (1999)``, ``Breaking Bad (an extra)``."""
        name = f"{self.title} ({self.year})" if self.year else self.title
        if self.kind == MOVIE:
            return name
        if self.episode is None:
            return f"{name} (an extra)"
        code = f"S{self.season or 0:02d}E{self.episode:02d}"
        if len(self.episodes) > 1:
            code += "".join(f"E{e:02d}" for e in self.episodes[1:])
        return f"{self.title} {code}"


def is_sample(name: str) -> bool:
    if "sample" not in name.lower():
        return False  # the common case, without building a path
    return bool(_SAMPLE.search(PurePosixPath(name).stem))


def _generic(text: str) -> bool:
    return bool(_GENERIC.match(text.strip())) or not re.search(r"[^\W\d_]", text)


def _real(release: Release) -> bool:
    return bool(release.title) and not _generic(release.title)


def identify(relative: str, folder_kind: str) -> Identity:
    """The identity of the file at ``relative`` (a POSIX path under its library folder)."""
    parts = PurePosixPath(relative).parts
    if folder_kind == "shows":
        return _episode(parts)
    return _movie(parts)


@lru_cache(maxsize=8192)
def _parse(name: str) -> Release:
    """A folder's name is parsed once per scan process, whatever its number of files."""
    return parse_release_name(name)


def _movie(parts: tuple[str, ...]) -> Identity:
    stem = PurePosixPath(parts[-1]).stem
    folder = None
    for name in reversed(parts[:-1]):  # the nearest folder with a real name
        parsed = _parse(name)
        if _real(parsed) and not _EXTRAS_DIR.match(name):
            folder = parsed
            break
    note = ""
    if _EPISODE_CODE.search(stem):
        note = "its name looks like an episode, but it is in a movies folder"
    if folder is not None and folder.year:
        # "Title (Year)/..." is the curated name (the layout Plex, Jellyfin and Radarr use)
        return Identity(MOVIE, folder.title, folder.year, note=note)
    own = parse_release_name(stem)
    if folder is not None and not _real(own):
        return Identity(MOVIE, folder.title, own.year, note=note)
    return Identity(MOVIE, own.title if _real(own) else stem, own.year, note=note)


def _episode(parts: tuple[str, ...]) -> Identity:
    stem = PurePosixPath(parts[-1]).stem
    own = parse_release_name(stem)
    dirs = parts[:-1]
    show = _parse(dirs[0]) if dirs else None
    if show is not None and _real(show):
        title, year = show.title, show.year
    else:
        title, year = own.title, own.year
    season = own.season
    extra_dir = any(_EXTRAS_DIR.match(d) for d in dirs[1:])
    if season is None:
        season = _season_from_dirs(dirs[1:])
    if season is None and show is not None and show.season is not None:
        season = show.season  # "Show.S01.1080p/01.mkv"
    episodes = () if extra_dir else tuple(own.episodes)
    if episodes and season is None:
        season = 1  # absolute numbering (anime): season 1
    note = "" if episodes else "an extra of the show: no episode number in its name"
    return Identity(TV, title, year, season, episodes, note)


def _season_from_dirs(dirs: tuple[str, ...]) -> int | None:
    for name in reversed(dirs):
        if _SPECIALS_DIR.match(name.strip()):
            return 0
        match = _SEASON_DIR.match(name.strip())
        if match:
            return int(match.group(1))
    return None
