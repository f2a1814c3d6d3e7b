"""The library's rules: adding a title by magnet, listing, deleting. No HTTP here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachalot.api import cachalot_disabled
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet

from media import files
from media.magnets import Magnet
from media.models import Kind, Status, Title
from media.release_names import Release, parse_release_name
from media.signals import title_added, title_deleting

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
        return AddResult(existing, created=False)
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
    rows = Title.objects.in_library().values("kind").annotate(n=Count("id"))
    result = {k: 0 for k in Kind.values}
    result.update({row["kind"]: row["n"] for row in rows})
    return result


def delete_title(title: Title, *, delete_files: bool = False) -> None:
    """Remove a title from the library (and its download, and its files when asked)."""
    if delete_files:
        files.delete_title_files(title)
    with transaction.atomic():
        title_deleting.send(sender=Title, title=title, delete_files=delete_files)
        title.delete()
