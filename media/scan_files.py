"""The file-system half of a scan (no database): walk a library folder, and look at one file.

:func:`walk` lists the videos and subtitles under a folder with ``os.scandir`` (sizes and times
from the directory walk, no file opened), skipping hidden names; it follows links to folders
once (a link back to a folder already walked is a loop, reported, not followed), and says which
folders it could not read, so that their files are not taken for missing. :func:`examine` opens
one new or changed file: a partial hash (the size and the first and last 64 KiB: how a moved
file is recognised), a probe (PyAV) for a video, a parse for a subtitle, and a second look at
its size and time to catch a file that changed while it was being read.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from media.probe import CODEC_LABELS, CONTAINER_LABELS, ProbeError, ProbeResult, probe
from media.subtitles import SubtitleError, parse, read_subtitle_text

VIDEO_EXTENSIONS = frozenset(
    {
        ".mkv", ".mp4", ".m4v", ".avi", ".mov", ".webm", ".wmv", ".mpg", ".mpeg", ".ts",
        ".m2ts", ".mts", ".flv", ".ogv", ".3gp", ".divx", ".vob", ".asf",
    }
)  # fmt: skip
SUBTITLE_EXTENSIONS = frozenset({".srt", ".ass", ".ssa", ".vtt"})
HASH_CHUNK = 64 * 1024
PROBE_TIMEOUT = 20.0  # seconds FFmpeg may read one file (a stalled share, a file being written)
SETTLE_SECONDS = 0.2  # a file that changed while it was read is looked at again this much later
CHANGING = (
    "it kept changing while Plank read it (still being copied?); it is looked at again next scan"
)
PROGRESS_EVERY = 500  # entries between progress reports of the walk


@dataclass(slots=True)
class Found:
    """A video or subtitle the walk saw (``rel``: its POSIX path under the folder)."""

    rel: str
    size: int
    mtime_ns: int
    ctime_ns: int
    role: str  # "video" or "subtitle"


@dataclass
class Walked:
    files: list[Found] = field(default_factory=list)
    problems: dict[str, Found | None] = field(default_factory=dict)  # rel -> the entry, if any
    reasons: dict[str, str] = field(default_factory=dict)  # rel -> why it was not listed
    unreadable: list[str] = field(default_factory=list)  # folders (rel) whose files are unknown
    ignored: int = 0  # other files (artwork, .nfo, ...)
    root_readable: bool = True
    cancelled: bool = False


def role_of(name: str) -> str | None:
    suffix = os.path.splitext(name)[1].lower()
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in SUBTITLE_EXTENSIONS:
        return "subtitle"
    return None


def _words(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link that loops back on itself"
    if exc.errno == errno.EACCES or isinstance(exc, PermissionError):
        return "unreadable: permission denied"
    if exc.errno == errno.ENOENT:
        return "a broken link (what it points to is gone)"
    return f"unreadable: {(exc.strerror or str(exc)).lower()}"


def walk(
    root: Path,
    *,
    seen: Callable[[int, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Walked:
    """Every video and subtitle under ``root``; ``seen(count, current)`` now and then."""
    out = Walked()
    try:
        top = os.stat(root)
    except OSError:
        out.root_readable = False
        return out
    visited = {(top.st_dev, top.st_ino)}
    stack: list[tuple[Path, str]] = [(root, "")]
    count = 0
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            if not prefix:
                out.root_readable = False
                return out
            out.unreadable.append(prefix.rstrip("/"))
            out.reasons[prefix] = _words(exc)
            out.problems[prefix] = None
            continue
        folders: list[tuple[Path, str]] = []
        for entry in listed:
            if entry.name.startswith("."):
                continue  # hidden: .Trash, Plank's own .part files, @eaDir-like clutter
            rel = prefix + entry.name
            count += 1
            if seen is not None and count % PROGRESS_EVERY == 0:
                seen(len(out.files), rel)
                if cancelled is not None and cancelled():
                    out.cancelled = True
                    return out
            try:
                is_dir = entry.is_dir()
            except OSError as exc:
                out.reasons[rel] = _words(exc)
                out.problems[rel] = None
                continue
            if is_dir:
                try:
                    st = entry.stat()
                except OSError as exc:
                    out.reasons[rel + "/"] = _words(exc)
                    out.problems[rel + "/"] = None
                    continue
                ident = (st.st_dev, st.st_ino)
                if ident in visited:
                    out.reasons[rel + "/"] = (
                        "a link to a folder that is already scanned (a loop): not followed"
                    )
                    out.problems[rel + "/"] = None
                    continue
                visited.add(ident)
                folders.append((Path(folder, entry.name), rel + "/"))
                continue
            role = role_of(entry.name)
            if role is None:
                try:
                    if entry.is_symlink() and not os.path.exists(entry.path):
                        raise FileNotFoundError(errno.ENOENT, "dangling", entry.path)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOENT):
                        out.reasons[rel] = _words(exc)
                        out.problems[rel] = None
                        continue
                out.ignored += 1
                continue
            try:
                st = entry.stat()
            except OSError as exc:
                out.reasons[rel] = _words(exc)
                out.problems[rel] = None
                continue
            out.files.append(Found(rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, role))
        stack.extend(reversed(folders))
    if seen is not None:
        seen(len(out.files), "")
    return out


def partial_hash(path: Path, size: int) -> str:
    """The size and the first and last 64 KiB, hashed: the same file wherever it moves."""
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as fh:
        digest.update(fh.read(HASH_CHUNK))
        if size > HASH_CHUNK:
            fh.seek(max(size - HASH_CHUNK, HASH_CHUNK))
            digest.update(fh.read(HASH_CHUNK))
    return digest.hexdigest()


@dataclass
class Examined:
    found: Found
    size: int = 0
    mtime_ns: int = 0
    ctime_ns: int = 0
    hash: str = ""
    info: ProbeResult | None = None
    cues: int = 0
    error: str = ""  # why it can't be in the library, in words
    changing: bool = False  # it changed while it was being read


def examine(root: Path, found: Found, *, attempts: int = 2) -> Examined:
    """Open one file: hash, probe (videos) or parse (subtitles), and check it held still: its
    size and time must be those the walk saw, before and after it is read. One that changed is
    looked at once more a moment later; one that keeps changing (still being copied in) is not
    added, and the next scan (the watch asks for one when the copy goes on) looks again."""
    path = root / found.rel
    expected = (found.size, found.mtime_ns)
    for _attempt in range(attempts):
        result = _examine_once(path, found, expected)
        if not result.changing:
            return result
        expected = (result.size, result.mtime_ns)
        time.sleep(SETTLE_SECONDS)
    return Examined(found, error=CHANGING, changing=True)


def _examine_once(path: Path, found: Found, expected: tuple[int, int]) -> Examined:
    result = Examined(found)
    try:
        before = os.stat(path)
        result.size, result.mtime_ns, result.ctime_ns = (
            before.st_size,
            before.st_mtime_ns,
            before.st_ctime_ns,
        )
        if (before.st_size, before.st_mtime_ns) != expected:
            result.changing = True  # written to since it was last looked at: not read now
            return result
        result.hash = partial_hash(path, before.st_size)
        if found.role == "video":
            result.info = probe(path, timeout=PROBE_TIMEOUT)
        else:
            result.cues = len(parse(read_subtitle_text(path), path.suffix.lower().lstrip(".")))
            if not result.cues:
                result.error = "a subtitle file with no subtitles in it"
        after = os.stat(path)
    except FileNotFoundError:
        result.error = "gone before Plank could read it"
        return result
    except OSError as exc:
        result.error = _words(exc)
        return result
    except ProbeError as exc:
        result.error = probe_words(exc, path.name)
        after = _stat_or_none(path)
        if after is not None and (after.st_size, after.st_mtime_ns) != (
            result.size,
            result.mtime_ns,
        ):
            result.changing = True
        return result
    except (SubtitleError, UnicodeError, ValueError) as exc:
        result.error = f"not a subtitle file Plank can read ({exc})"
        return result
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        result.changing = True
    return result


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def probe_words(exc: ProbeError, name: str) -> str:
    """The probe's message without the file's name: "not a video (no audio or video streams)"."""
    text = str(exc)
    if text.startswith(f"{name}: "):
        text = text[len(name) + 2 :]
    if "permission denied" in text.lower():
        return "unreadable: permission denied"
    if text.startswith("not a readable video file"):
        why = text[len("not a readable video file") :].strip(" ()")
        return f"not a video: {why}" if why else "not a video"
    if text.startswith("not a video file"):
        return "not a video" + text[len("not a video file") :]
    return text


def playability(info: ProbeResult) -> str:
    """How a browser takes it, in a few words: "plays in browsers", "HEVC (H.265): not
    playable in a browser"."""
    if info.plan == "keep":
        return "plays in browsers"
    if info.plan == "unsupported":
        if info.video_codec is None:
            return "no video in it (audio only)"
        codec = CODEC_LABELS.get(info.video_codec, info.video_codec)
        return f"{codec}: not playable in a browser"
    box = CONTAINER_LABELS.get(info.container, info.container)
    return f"{box}: a browser may not play it as it is"
