"""The database half of a scan: what a file found in a library folder becomes in the library.

A :class:`Shelf` finds (or makes) the title, season and episode a file belongs to; the
functions below write one file's outcome: a new file, a changed one, a moved one, one that came
back, one that went missing, or a problem (a file that is not in the library, and why). Every
write is one file's rows; the scan groups them into transactions of a few dozen files, so that a
kill loses at most that batch and the next scan picks it up again.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import PurePosixPath

from django.utils import timezone

from media.models import Episode, Kind, LibraryFolder, MediaFile, ScanProblem, Season, Status, Title
from media.probe import ProbeResult
from media.scan_files import CHANGING, Examined, Found, playability
from media.scan_names import Identity
from media.subtitles import subtitle_language


def _norm(text: str) -> str:
    """A title as compared: "Star Wars: A New Hope" == "star wars - a new hope"."""
    text = unicodedata.normalize("NFKD", text).casefold()
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"&", " and ", text)
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


class Shelf:
    """Titles of one kind, looked up once per scan, matched by normalised title and year."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._titles: dict[str, list[Title]] = {}
        for title in Title.objects.in_library().filter(kind=kind):
            self._titles.setdefault(_norm(title.title), []).append(title)
        self._episodes: dict[tuple[int, int, int], Episode] = {}

    def title_for(self, identity: Identity, release_name: str) -> tuple[Title, bool]:
        """The title ``identity`` names, made when there is none; and whether it is new."""
        key = _norm(identity.title) or "untitled"
        candidates = self._titles.get(key, [])
        found = next((t for t in candidates if t.year == identity.year), None)
        if found is None and (identity.year is None or len(candidates) == 1):
            found = next((t for t in candidates if identity.year is None or t.year is None), None)
        if found is not None:
            if found.year is None and identity.year is not None:
                found.year = identity.year
                found.save(update_fields=["year", "updated_at"])
            if found.status == Status.PENDING and not found.magnet:
                found.set_status(Status.COMPLETE)  # a wanted title: here it is
            return found, False
        title = Title.objects.create(
            kind=self.kind,
            title=(identity.title or "Untitled")[:300],
            year=identity.year,
            release_name=release_name[:500],
            status=Status.COMPLETE,
        )
        self._titles.setdefault(key, []).append(title)
        return title, True

    def episode_for(self, title: Title, identity: Identity) -> Episode | None:
        if identity.kind != Kind.TV or identity.episode is None:
            return None
        season_no = identity.season if identity.season is not None else 1
        key = (title.pk, season_no, identity.episode)
        episode = self._episodes.get(key)
        if episode is None:
            season, _ = Season.objects.get_or_create(show=title, number=season_no)
            episode, _ = Episode.objects.get_or_create(season=season, number=identity.episode)
            self._episodes[key] = episode
        return episode


def video_note(identity: Identity, info: ProbeResult) -> str:
    note = f"matched to {identity.describe()} · {playability(info)}"
    if identity.note:
        note += f" ({identity.note})"
    return note[:300]


def _facts(info: ProbeResult) -> dict[str, object]:
    return {
        "container": info.container[:32],
        "video_codec": (info.video_codec or "")[:32],
        "audio_codec": info.audio_codec[:32],
        "duration": info.duration,
    }


def new_video(folder: LibraryFolder, shelf: Shelf, identity: Identity, seen: Examined) -> MediaFile:
    """A new video's row, not saved yet (the scan inserts a batch at once): its title (made if
    need be) and its episode."""
    assert seen.info is not None
    name = PurePosixPath(seen.found.rel).name
    title, _new = shelf.title_for(identity, PurePosixPath(name).stem)
    return MediaFile(
        title=title,
        episode=shelf.episode_for(title, identity),
        role=MediaFile.Role.VIDEO,
        folder=folder,
        path=seen.found.rel,
        size=seen.size,
        mtime_ns=seen.mtime_ns,
        partial_hash=seen.hash,
        scan_note=video_note(identity, seen.info),
        **_facts(seen.info),
    )


def update_video(file: MediaFile, identity: Identity, seen: Examined) -> None:
    """A known video whose size or time changed: what it holds now."""
    assert seen.info is not None
    file.size, file.mtime_ns, file.partial_hash = seen.size, seen.mtime_ns, seen.hash
    file.missing_since = None
    file.scan_note = video_note(identity, seen.info)
    for name, value in _facts(seen.info).items():
        setattr(file, name, value)
    file.save()


def move(file: MediaFile, folder: LibraryFolder, found: Found, old: str) -> None:
    """The same file (size and partial hash) at a new place."""
    file.folder, file.path = folder, found.rel
    file.size, file.mtime_ns = found.size, found.mtime_ns
    file.missing_since = None
    file.scan_note = f"moved here from {old}"[:300]
    file.save()


def came_back(file: MediaFile) -> None:
    file.missing_since = None
    file.scan_note = "back in its folder"
    file.save(update_fields=["missing_since", "scan_note"])


def gone(file: MediaFile, when: datetime) -> None:
    file.missing_since = when
    file.scan_note = (
        f"missing since {timezone.localtime(when):%-d %b %Y, %H:%M} (was at {file.path})"[:300]
    )
    file.save(update_fields=["missing_since", "scan_note"])


def problem(folder: LibraryFolder, rel: str, reason: str, found: Found | None) -> None:
    """Record why a file is not in the library (kept for the folder's page, and so that an
    unchanged broken file is not opened again). A file that changed while being read keeps no
    size or time, so the next scan looks at it again."""
    keep = found is not None and reason != CHANGING
    ScanProblem.objects.update_or_create(
        folder=folder,
        path=rel[:1000],
        defaults={
            "reason": reason[:300],
            "size": found.size if keep else 0,
            "mtime_ns": found.mtime_ns if keep else 0,
            "ctime_ns": found.ctime_ns if keep else 0,
            "seen_at": timezone.now(),
        },
    )


def add_subtitle(
    folder: LibraryFolder, video: MediaFile, seen: Examined, known: MediaFile | None
) -> MediaFile:
    """A subtitle next to its video (new, or changed when ``known``)."""
    rel = seen.found.rel
    language = subtitle_language(PurePosixPath(rel).name)
    fields = {
        "title_id": video.title_id,
        "episode_id": video.episode_id,
        "size": seen.size,
        "mtime_ns": seen.mtime_ns,
        "partial_hash": seen.hash,
        "language": language[:16],
        "container": PurePosixPath(rel).suffix.lower().lstrip(".")[:32],
        "missing_since": None,
        "scan_note": f"subtitles of {PurePosixPath(video.path).name}"
        + (f" ({language})" if language else "")
        + f" · {seen.cues} line{'s' if seen.cues != 1 else ''}",
    }
    if known is not None:
        for name, value in fields.items():
            setattr(known, name, value)
        known.save()
        return known
    return MediaFile.objects.create(role=MediaFile.Role.SUBTITLE, folder=folder, path=rel, **fields)


def video_for_subtitle(rel: str, videos: dict[str, MediaFile]) -> MediaFile | None:
    """The video a subtitle belongs to: in the same folder, the one whose name its name starts
    with (the longest such); else the only video of that folder."""
    sub = PurePosixPath(rel)
    here = [
        (PurePosixPath(p), f) for p, f in videos.items() if PurePosixPath(p).parent == sub.parent
    ]
    matching = [(p, f) for p, f in here if sub.stem.lower().startswith(p.stem.lower())]
    if matching:
        return max(matching, key=lambda pf: len(pf[0].stem))[1]
    if len(here) == 1:
        return here[0][1]
    return None
