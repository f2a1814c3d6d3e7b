"""The library's rules: adding a title by magnet, listing, deleting. No HTTP here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachalot.api import cachalot_disabled
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from media import files, title_counts
from media.downloading import download_of
from media.magnets import Magnet
from media.models import Kind, Status, Title
from media.release_names import Release, parse_release_name
from media.signals import title_added, title_deleting
from plank.faults import crash_point

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

SORTS = {
    "added": ("-added_at", "-id"),
    "title": ("title", "year"),
    "year": ("-year", "title"),
}
DEFAULT_SORT = "added"


@dataclass(frozen=True)
class AddResult:
    title: Title
    created: bool


def find_existing(magnet: Magnet) -> Title | None:
    hashes = {h for h in (magnet.info_hash, magnet.info_hash_v1, magnet.info_hash_v2) if h}
    return Title.objects.filter(Q(info_hash__in=hashes) | Q(info_hash_v2__in=hashes)).first()


def add_magnet(magnet: Magnet, kind: str, user: AbstractBaseUser | None) -> AddResult:
    """Add a title for ``magnet``; the same info-hash twice returns the existing title.

    The title and its download commit together (``title_added`` is sent in the transaction).
    """
    if existing := find_existing(magnet):
        if existing.status != Status.REMOVED:
            restart_if_stuck(existing)
            return AddResult(existing, created=False)
        finish_deletion(existing)  # half deleted (a crash): finish, then add it anew
    release = parse_release_name(magnet.name) if magnet.name else None
    title = _new_title(magnet, kind, release, user)
    try:
        with transaction.atomic():
            title.save()
            title_added.send(sender=Title, title=title)
    except IntegrityError:  # a concurrent add of the same hash won the race
        # Past the ORM cache: inside a caller's transaction cachalot would answer this look
        # from the first one ("no such title") instead of seeing the other commit.
        with cachalot_disabled():
            existing = find_existing(magnet)
        if existing is None:
            raise
        return AddResult(existing, created=False)
    return AddResult(title, created=True)


class ReleaseTaken(Exception):
    """The release is already another title's (its info-hash is taken)."""

    def __init__(self, title: Title) -> None:
        super().__init__(f"This release is already in the library as “{title.display_title}”.")
        self.title = title


def attach_release(title: Title, magnet: Magnet) -> Title:
    """Give ``title`` (a wanted title, or one whose release failed) the release ``magnet``:
    its magnet, info-hash, release name and quality; the files of an earlier release that never
    reached the library go. ``title_added`` is sent in the same transaction, so the download
    starts with it. Raises :class:`ReleaseTaken` when another title has that info-hash."""
    with transaction.atomic():
        existing = find_existing(magnet)
        if existing is not None and existing.pk != title.pk:
            raise ReleaseTaken(existing)
        release = parse_release_name(magnet.name) if magnet.name else None
        title.magnet = magnet.uri()
        title.info_hash = magnet.info_hash_v1 or magnet.info_hash
        title.info_hash_v2 = magnet.info_hash_v2
        title.release_name = magnet.name[:500]
        title.quality = (release.quality if release else "")[:32]
        title.status = Status.PENDING
        title.status_detail = ""
        title.save()
        title.files.filter(path="").delete()
        title_added.send(sender=Title, title=title)
    return title


def _new_title(
    magnet: Magnet, kind: str, release: Release | None, user: AbstractBaseUser | None
) -> Title:
    name = (release.title if release else "") or magnet.name or f"Magnet {magnet.info_hash[:8]}"
    return Title(
        kind=kind if kind in Kind.values else Kind.MOVIE,
        title=name[:300],
        year=release.year if release else None,
        quality=(release.quality if release else "")[:32],
        release_name=magnet.name[:500],
        magnet=magnet.uri(),
        info_hash=magnet.info_hash_v1 or magnet.info_hash,
        info_hash_v2=magnet.info_hash_v2,
        status=Status.PENDING,
        added_by=user if user is not None and user.is_authenticated else None,
    )


def guess_kind(magnet: Magnet) -> str:
    if not magnet.name:
        return Kind.MOVIE
    return Kind.TV if parse_release_name(magnet.name).kind == "tv" else Kind.MOVIE


def titles(kind: str, *, sort: str = DEFAULT_SORT, query: str = "") -> QuerySet[Title]:
    qs = Title.objects.in_library().filter(kind=kind).select_related("download")
    if query:
        qs = qs.filter(
            Q(title__icontains=query)
            | Q(original_title__icontains=query)
            | Q(release_name__icontains=query)
        )
    return qs.order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))


def counts() -> dict[str, int]:
    """Titles in the library per kind, from the counts the database keeps (media/title_counts.py)."""
    result = {k: 0 for k in Kind.values}
    for kind, status, n in title_counts.counts():
        if status != Status.REMOVED and kind in result:
            result[kind] += n
    return result


def restart_if_stuck(title: Title) -> bool:
    """A title with a magnet that should be downloading but has no download (a crash before
    its row, or a row lost) starts it again: ``title_added`` once more (its receivers are
    idempotent). Whether it was stuck."""
    if not title.magnet or title.status not in (Status.PENDING, Status.DOWNLOADING, Status.ERROR):
        return False
    if download_of(title) is not None:
        return False
    with transaction.atomic():
        title_added.send(sender=Title, title=title)
    return True


def delete_title(title: Title, *, delete_files: bool = False) -> None:
    """Remove a title from the library (its download, and its files when asked).

    In steps that a crash cannot leave half done: first, in one transaction, the title leaves
    the library (status removed, and whether its files go) and ``title_deleting`` is sent (the
    download's row goes, and the engine's command to drop the torrent is written, with it);
    then the library files go, if asked; then the row. A crash between the steps leaves a
    removed title that :func:`finish_deletions` (the engine, when it starts and every minute)
    finishes; adding its magnet again finishes it first.
    """
    with transaction.atomic():
        title.mark_removed(delete_files=delete_files)
        title_deleting.send(sender=Title, title=title, delete_files=delete_files)
    crash_point("delete.marked")
    finish_deletion(title)


def finish_deletion(title: Title) -> None:
    """The rest of a delete (safe to repeat): the title's download if it is still there, its
    files if it was asked, then the row."""
    if download_of(title) is not None:  # marked removed elsewhere, or by an older Plank
        with transaction.atomic():
            title_deleting.send(sender=Title, title=title, delete_files=title.removing_files)
    if title.removing_files:
        files.delete_title_files(title)
    crash_point("delete.files")
    title.delete()


def finish_deletions() -> list[Title]:
    """Finish every delete a crash interrupted; the titles deleted."""
    done = []
    for title in Title.objects.filter(status=Status.REMOVED):
        finish_deletion(title)
        done.append(title)
    return done
