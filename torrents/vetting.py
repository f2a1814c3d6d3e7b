"""Which files of a torrent Plank downloads, and which torrents it refuses.

``vet(files, kind)`` looks only at names and sizes (the metadata), before a byte is fetched:

* a movie keeps its largest video; a show keeps every episode video (season and episode from
  the file name, or its folder), the largest one when two files claim the same episode;
* subtitles (.srt .ass .ssa .vtt .sub .idx) are kept;
* programs and shortcuts (.exe .lnk .scr .bat ...), also behind a double extension like
  ``movie.mp4.exe``, are never downloaded;
* samples ("sample" in the name or a folder, or a video under ``min_video_size``), archives and
  disc images are skipped;
* a torrent left with no video is refused, with a reason in words a person understands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import NamedTuple, Protocol

from media.release_names import parse_release_name

VIDEO_EXTENSIONS = frozenset(
    "mkv mp4 m4v avi mov wmv webm mpg mpeg ts m2ts mts flv ogv 3gp divx xvid asf rmvb".split()
)
SUBTITLE_EXTENSIONS = frozenset("srt ass ssa vtt sub idx".split())
PROGRAM_EXTENSIONS = frozenset(
    "exe lnk scr bat cmd msi com jar pif vbs vbe js jse wsf wsh ps1 hta cpl reg apk app dmg sh run".split()
)
ARCHIVE_EXTENSIONS = frozenset("rar zip 7z tar gz tgz bz2 xz zst cab arj lzh ace".split())
DISC_EXTENSIONS = frozenset("iso img bin nrg mdf mds cue vob ifo bup".split())
_SPLIT_ARCHIVE = re.compile(r"^(r\d{2,3}|z\d{2}|\d{3})$")  # .r00, .z01, .001
_DISC_FOLDERS = frozenset({"video_ts", "bdmv", "audio_ts"})
_SAMPLE = re.compile(r"(?:^|[\W_])sample(?:[\W_]|$)", re.I)
_SEASON_FOLDER = re.compile(
    r"(?:^|[\W_])(?:season|series|saison|staffel)[\W_]*(\d{1,3})(?:[\W_]|$)", re.I
)

# Smaller than this, a "video" is a sample or junk. Settings may lower it (tests use small files).
MIN_VIDEO_SIZE = 1024 * 1024


class FileLike(Protocol):
    index: int
    path: str
    size: int


class Keep(NamedTuple):
    index: int
    role: str  # "video" | "subtitle"
    season: int | None
    episode: int | None


@dataclass(frozen=True)
class Vetting:
    keep: list[Keep] = field(default_factory=list)
    skip: list[int] = field(default_factory=list)
    refused: str | None = None

    @property
    def videos(self) -> list[Keep]:
        return [k for k in self.keep if k.role == "video"]


def _extensions(path: str) -> list[str]:
    """Lower-case extensions of the file name, last first ('a.mp4.exe' -> ['exe', 'mp4'])."""
    parts = PurePosixPath(path).name.lower().split(".")
    return list(reversed(parts[1:]))


def kind_of(path: str) -> str:
    """program | video | subtitle | archive | disc | other."""
    exts = _extensions(path)
    ext = exts[0] if exts else ""
    folders = {p.lower() for p in PurePosixPath(path).parts[:-1]}
    if ext in PROGRAM_EXTENSIONS:
        return "program"
    if ext in ARCHIVE_EXTENSIONS or _SPLIT_ARCHIVE.match(ext):
        return "archive"
    if ext in DISC_EXTENSIONS or (folders & _DISC_FOLDERS):
        return "disc"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    if ext in SUBTITLE_EXTENSIONS:
        return "subtitle"
    return "other"


def is_sample(path: str, size: int, min_video_size: int = MIN_VIDEO_SIZE) -> bool:
    p = PurePosixPath(path)
    return size < min_video_size or any(_SAMPLE.search(part) for part in (p.stem, *p.parts[:-1]))


def episode_of(path: str) -> tuple[int | None, int | None]:
    """(season, episode) from a file's name, helped by its folders; season 1 if only the
    episode number is known."""
    p = PurePosixPath(path)
    release = parse_release_name(p.stem)
    season, episode = release.season, release.episode
    for folder in reversed(p.parts[:-1]):
        if season is not None:
            break
        match = _SEASON_FOLDER.search(folder)
        season = int(match.group(1)) if match else parse_release_name(folder).season
    if episode is not None and season is None:
        season = 1
    return season, episode


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def _names(files: Iterable[FileLike], limit: int = 2) -> str:
    names = [PurePosixPath(f.path).name for f in files]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _refusal(by_kind: dict[str, list[FileLike]], word: str) -> str:
    programs = by_kind.get("program", [])
    video_like = [f for f in programs if set(_extensions(f.path)[1:]) & VIDEO_EXTENSIONS]
    if video_like or (programs and not by_kind.get("video")):
        shown = video_like or programs
        noun = "a program" if len(shown) == 1 else "programs"
        return f"This torrent holds only {noun} ({_names(shown)}), not a video — Plank won't download it."
    if by_kind.get("disc"):
        return (
            f"This torrent holds a disc image ({_names(by_kind['disc'])}), not a playable video "
            "file — Plank can't stream disc images."
        )
    if by_kind.get("archive"):
        return (
            f"This torrent holds only archives ({_names(by_kind['archive'])}), not a playable video "
            "— Plank doesn't download packed releases."
        )
    if by_kind.get("video"):  # every video was a sample
        shown = by_kind["video"]
        sizes = ", ".join(human_size(f.size) for f in shown[:2])
        return (
            f"This torrent holds only a sample ({_names(shown)}, {sizes}), not the full {word} "
            "— Plank won't download it."
        )
    if by_kind.get("subtitle"):
        return f"This torrent holds only subtitles ({_names(by_kind['subtitle'])}), no video."
    return "This torrent holds no video files Plank can play."


def vet(files: Sequence[FileLike], kind: str, *, min_video_size: int = MIN_VIDEO_SIZE) -> Vetting:
    """Decide what to download of a torrent whose files are ``files`` (index, path, size)."""
    by_kind: dict[str, list[FileLike]] = {}
    for f in files:
        by_kind.setdefault(kind_of(f.path), []).append(f)
    videos = [f for f in by_kind.get("video", []) if not is_sample(f.path, f.size, min_video_size)]
    word = "episode" if kind == "tv" else "movie"
    if not videos:
        return Vetting(skip=[f.index for f in files], refused=_refusal(by_kind, word))

    keep: list[Keep] = []
    if kind == "tv":
        chosen: dict[tuple[int | None, int], FileLike] = {}
        loose: list[FileLike] = []
        for f in videos:
            season, episode = episode_of(f.path)
            if episode is None:
                loose.append(f)
                continue
            best = chosen.get((season, episode))
            if best is None or f.size > best.size:
                chosen[(season, episode)] = f
        if chosen:
            for (season, episode), f in sorted(
                chosen.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1])
            ):
                keep.append(Keep(f.index, "video", season, episode))
        else:  # no numbers anywhere: a single episode, or a show packed without names
            keep.extend(
                Keep(f.index, "video", None, None) for f in sorted(loose, key=lambda f: f.path)
            )
    else:
        largest = max(videos, key=lambda f: f.size)
        keep.append(Keep(largest.index, "video", None, None))

    for f in by_kind.get("subtitle", []):
        season, episode = episode_of(f.path) if kind == "tv" else (None, None)
        keep.append(Keep(f.index, "subtitle", season, episode))

    kept = {k.index for k in keep}
    return Vetting(keep=keep, skip=[f.index for f in files if f.index not in kept])
