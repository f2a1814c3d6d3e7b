"""Where a title's files go inside the library directory.

Movies: ``Title (Year)/Title (Year).mp4``; shows: ``Show (Year)/Season 01/Show - S01E02.mp4``;
subtitles next to their video: ``Title (Year).en.vtt``. Names come from the internet, so every
component is made safe on every file system (the rules: docs/streaming.md).
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import PurePath, PurePosixPath
from typing import TypeVar

MAX_NAME_BYTES = 180
FALLBACK_NAME = "Untitled"
_FORBIDDEN = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f\x80-\x9f]')
# zero-width space, bidi marks and overrides (they disguise names), BOM; joiners stay (emoji)
_INVISIBLE = re.compile("[\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$", re.I)
_EXT = re.compile(r"^\.[a-z0-9]{1,8}$")

P = TypeVar("P", bound=PurePath)


def sanitize_name(
    name: str, *, max_bytes: int = MAX_NAME_BYTES, allow_reserved: bool = False
) -> str:
    """One safe path component made from `name` (never empty, never a dot name).

    `allow_reserved` skips the Windows device-name check, for a name that will get more
    text after it ("CON" + " (2001)" is fine, "CON" alone is not)."""
    name = unicodedata.normalize("NFC", str(name))
    name = _INVISIBLE.sub("", name)
    name = re.sub(r"\s*:\s+", " - ", name)  # "Star Wars: A New Hope" -> "Star Wars - A New Hope"
    name = re.sub(r"\s+", " ", name)  # tabs, newlines, non-breaking spaces -> one space
    name = _FORBIDDEN.sub("", name)
    name = re.sub(r" {2,}", " ", name)
    name = _truncate_utf8(name.strip(" ."), max_bytes)
    name = name.strip(" .")
    if not name:
        return FALLBACK_NAME
    first, dot, rest = name.partition(".")
    if not allow_reserved and _RESERVED.match(first.strip()):
        name = f"{first.rstrip()}_{dot}{rest}"  # "CON" -> "CON_", "nul.txt" -> "nul_.txt"
    return name


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    text = encoded[:max_bytes].decode("utf-8", "ignore")
    # Don't leave half a grapheme: a dangling joiner, variation selector or combining mark.
    while text and (
        unicodedata.combining(text[-1])
        or text[-1] in "\u200d\ufe0e\ufe0f"
        or 0x1F3FB <= ord(text[-1]) <= 0x1F3FF  # skin tone modifiers
    ):
        text = text[:-1]
    return text


def _with_year(title: str, year: int | None) -> str:
    if year is None:
        return sanitize_name(title)
    year = int(year)
    if not 0 < year < 10000:
        raise ValueError(f"not a year: {year}")
    return f"{sanitize_name(title, allow_reserved=True)} ({year})"


def _extension(ext: str) -> str:
    ext = ext.lower()
    if not ext.startswith("."):
        ext = f".{ext}"
    if not _EXT.match(ext):
        raise ValueError(f"not a file extension: {ext!r}")
    return ext


def library_path(
    kind: str,
    title: str,
    year: int | None,
    season: int | None = None,
    episode: int | None = None,
    ext: str = ".mp4",
) -> PurePosixPath:
    """Where a movie, or an episode of a show, lives relative to the library directory.

    `kind` is "movie" or "tv" (`media.models.Kind` values work). For "tv", `season` and
    `episode` are required; season 0 is the specials season.
    """
    kind = str(kind)
    folder = _with_year(title, year)
    suffix = _extension(ext)
    if kind == "movie":
        return PurePosixPath(folder, f"{folder}{suffix}")
    if kind == "tv":
        if season is None or episode is None:
            raise ValueError("an episode needs a season and an episode number")
        season, episode = int(season), int(episode)
        if season < 0 or episode < 0:
            raise ValueError("season and episode numbers can't be negative")
        show = sanitize_name(title, allow_reserved=True)  # "CON - S01E02.mp4" is fine
        return PurePosixPath(
            folder, f"Season {season:02d}", f"{show} - S{season:02d}E{episode:02d}{suffix}"
        )
    raise ValueError(f"unknown kind of title: {kind!r}")


def unique_path(path: P) -> P:
    """`path` if nothing is there yet, else ``name (2).ext``, ``name (3).ext``, ...

    Checked against the file system (a relative path is relative to the working directory).
    Two callers racing for the same name can still both get it; create the file with
    ``open(..., "x")`` or rename into place under a lock when that matters.
    """
    if not os.path.lexists(path):
        return path
    stem, suffix = path.stem, path.suffix
    n = 2
    while True:
        candidate = path.with_name(f"{stem} ({n}){suffix}")
        if not os.path.lexists(candidate):
            return candidate
        n += 1


def sidecar_path(video_path: P, language: str = "", ext: str = ".vtt") -> P:
    """The subtitle file next to a video: ``Title (Year).en.vtt`` (``Title (Year).vtt`` when the
    language is unknown)."""
    language = re.sub(r"[^A-Za-z0-9-]", "", language or "")[:16].strip("-")
    suffix = _extension(ext)
    middle = f".{language}" if language else ""
    return video_path.with_name(f"{video_path.stem}{middle}{suffix}")
