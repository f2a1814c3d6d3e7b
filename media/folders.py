"""Library folders: adding one (validated), removing one, the folder of a kind that Plank's own
downloads file into, and the folder browser admins pick paths with.

A folder's path must exist, be a readable folder, lie under one of ``PLANK_LIBRARY_ROOTS``, not be
a system folder, not be (or hold, or lie in) Plank's downloads folder or the rest of its data
directory, and neither hold nor lie inside another library folder: one file is never in two.
Removing a folder takes its files out of the library (titles left with no file go too); the files
on disk are never touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Count

from media.models import LibraryFolder, MediaFile, Title

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

MAX_NAME = 100
SYSTEM_FOLDERS = (
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/boot",
    "/etc",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/usr",
    "/var/lib",
    "/var/run",
    "/var/cache",
    "/var/log",
    "/snap",
    "/root",
    "/lost+found",
)
MAX_LISTED = 500  # sub-folders listed per folder in the browser


class FolderError(ValueError):
    """A path or name that can't be a library folder; the message is fit to show a person."""


@dataclass(frozen=True)
class Checked:
    name: str
    path: Path
    kind: str


def _within(parent: Path, child: Path) -> bool:
    """``child`` is ``parent`` or lies inside it (both resolved)."""
    return child == parent or child.is_relative_to(parent)


def _resolved(path: str | os.PathLike[str]) -> Path:
    return Path(path).resolve()


def roots() -> list[Path]:
    """Where the browser may look and where folders may be (``PLANK_LIBRARY_ROOTS``)."""
    return [_resolved(r) for r in settings.PLANK_LIBRARY_ROOTS if os.path.isabs(r)]


def is_system_folder(path: Path) -> bool:
    return any(_within(Path(s), path) for s in SYSTEM_FOLDERS) and not _plank_library(path)


def _plank_library(path: Path) -> bool:
    """Plank's own library directory (``LIBRARY_DIR``) or a folder inside it."""
    return _within(_resolved(settings.LIBRARY_DIR), path)


def check_path(raw: str, *, exclude: LibraryFolder | None = None) -> Path:
    """The resolved folder ``raw`` names, when it may be a library folder; else FolderError."""
    raw = (raw or "").strip()
    if not raw:
        raise FolderError("Give the folder's path.")
    if "\x00" in raw or len(raw) > 1000:
        raise FolderError("That is not a path.")
    if not os.path.isabs(raw):
        raise FolderError(f"Give the whole path, starting with /: {raw!r} is not one.")
    try:
        path = Path(raw).resolve(strict=True)
    except FileNotFoundError:
        raise FolderError(f"There is no folder at {raw}.") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, an unreadable parent
        raise FolderError(f"Plank can't follow {raw}: {_why(exc)}.") from None
    if not path.is_dir():
        raise FolderError(f"{path} is a file, not a folder.")
    _check_readable(path)
    _check_place(path)
    _check_others(path, exclude)
    return path


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return "the path loops back on itself" if isinstance(exc, RuntimeError) else str(exc)


def _check_readable(path: Path) -> None:
    try:
        with os.scandir(path) as entries:
            next(entries, None)
    except PermissionError:
        raise FolderError(
            f"Plank can't read {path} (permission denied). Give the user Plank runs as read"
            " access to it (e.g. chmod o+rx or a group), then add it again."
        ) from None
    except OSError as exc:
        raise FolderError(f"Plank can't read {path}: {_why(exc)}.") from None


def _check_place(path: Path) -> None:
    allowed = roots()
    if not any(_within(root, path) for root in allowed):
        where = ", ".join(str(r) for r in allowed) or "(none)"
        raise FolderError(
            f"{path} is outside the folders Plank may use ({where}; set PLANK_LIBRARY_ROOTS)."
        )
    if is_system_folder(path):
        raise FolderError(f"{path} is a system folder, not one for films and shows.")
    data = _resolved(settings.DATA_DIR)
    if _within(path, data):
        raise FolderError(
            f"{path} holds Plank's data directory ({data}: its database and downloads);"
            " pick a folder beside it."
        )
    downloads = _resolved(settings.DOWNLOADS_DIR)
    if _within(downloads, path):
        raise FolderError(
            f"{path} is Plank's downloads folder: downloads are filed into the library from"
            " there, so it can't be a library folder too."
        )
    if _within(path, downloads):
        raise FolderError(
            f"{path} holds Plank's downloads folder ({downloads}); pick a folder beside it."
        )
    if _within(data, path) and not _plank_library(path):
        raise FolderError(f"{path} is inside Plank's data directory; pick another folder.")


def _check_others(path: Path, exclude: LibraryFolder | None) -> None:
    others = LibraryFolder.objects.all()
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    for other in others:
        theirs = Path(other.path)
        if theirs == path:
            raise FolderError(f"{path} is already the library folder “{other.name}”.")
        if _within(theirs, path):
            raise FolderError(f"{path} is inside the library folder “{other.name}” ({theirs}).")
        if _within(path, theirs):
            raise FolderError(f"{path} holds the library folder “{other.name}” ({theirs}).")


def check_name(raw: str, *, exclude: LibraryFolder | None = None) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise FolderError("Give the folder a name, e.g. “Films”.")
    if len(name) > MAX_NAME:
        raise FolderError(f"A name is at most {MAX_NAME} characters.")
    taken = LibraryFolder.objects.filter(name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    other = taken.first()
    if other is not None:
        raise FolderError(f"There is a library folder called “{other.name}” already.")
    return name


def check_kind(raw: str) -> str:
    value = (raw or "").strip().lower()
    aliases = {
        "movie": "movies",
        "film": "movies",
        "films": "movies",
        "show": "shows",
        "tv": "shows",
    }
    value = aliases.get(value, value)
    if value not in LibraryFolder.FolderKind.values:
        raise FolderError("A library folder holds movies or shows: choose one.")
    return value


def check(name: str, path: str, kind: str) -> Checked:
    """Every rule at once, the first broken one raised as a FolderError."""
    return Checked(check_name(name), check_path(path), check_kind(kind))


def add_folder(
    name: str, path: str, kind: str, user: AbstractBaseUser | None = None
) -> LibraryFolder:
    """Validate and add a folder (announced by its declaration). The caller asks for its first
    scan (``media.scan.request_scan``)."""
    checked = check(name, path, kind)
    with transaction.atomic():
        # Checked again under the write lock: two admins adding the same folder at once.
        _check_others(checked.path, None)
        return LibraryFolder.objects.create(
            name=checked.name,
            path=str(checked.path),
            kind=checked.kind,
            added_by=user if user is not None and user.is_authenticated else None,
        )


@dataclass(frozen=True)
class Removed:
    files: int
    titles: int


def remove_folder(folder: LibraryFolder) -> Removed:
    """Take the folder and its files out of the library; titles left with no file (and no
    download of their own) go too. Nothing on disk is touched."""
    with transaction.atomic():
        files = MediaFile.objects.filter(folder=folder).count()
        title_ids = set(MediaFile.objects.filter(folder=folder).values_list("title_id", flat=True))
        folder.delete()  # its files, scans and problems with it (cascade)
        orphans = (
            Title.objects.filter(pk__in=title_ids, magnet="", info_hash__isnull=True)
            .annotate(n=Count("files"))
            .filter(n=0)
        )
        titles = 0
        for title in orphans:
            title.delete()  # announced by the library's declaration
            titles += 1
    return Removed(files, titles)


def folder_for(title_kind: str) -> LibraryFolder | None:
    """The library folder Plank's own downloads of this kind file into: the first added of
    that kind (movies or shows); None: Plank's own library directory."""
    kind = (
        LibraryFolder.FolderKind.MOVIES if title_kind == "movie" else LibraryFolder.FolderKind.SHOWS
    )
    return LibraryFolder.objects.filter(kind=kind).order_by("added_at", "pk").first()


# --- the folder browser --------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    path: Path | None  # None: the list of roots
    parent: Path | None
    folders: list[Path]
    truncated: bool
    problem: str = ""


def browse(raw: str | None) -> Listing:
    """The sub-folders an admin may see under ``raw`` (the roots when empty): folders only,
    never hidden ones, system folders or Plank's data directory, never outside the roots."""
    allowed = roots()
    if not raw:
        if len(allowed) == 1:
            raw = str(allowed[0])
        else:
            return Listing(None, None, sorted(allowed), False)
    try:
        path = Path(raw).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return Listing(None, None, sorted(allowed), False, f"There is no folder at {raw}.")
    if not path.is_dir() or not any(_within(root, path) for root in allowed) or _hidden(path):
        return Listing(None, None, sorted(allowed), False, f"{raw} can't be browsed.")
    parent = (
        path.parent
        if any(_within(r, path.parent) for r in allowed) and path != path.parent
        else None
    )
    folders: list[Path] = []
    truncated = False
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    if not entry.is_dir():
                        continue
                except OSError:
                    continue
                child = path / entry.name
                if _hidden(child.resolve()):
                    continue
                if len(folders) >= MAX_LISTED:
                    truncated = True
                    break
                folders.append(child)
    except PermissionError:
        return Listing(path, parent, [], False, f"Plank can't read {path} (permission denied).")
    except OSError as exc:
        return Listing(path, parent, [], False, f"Plank can't read {path}: {_why(exc)}.")
    return Listing(path, parent, sorted(folders, key=lambda p: p.name.lower()), truncated)


def _hidden(path: Path) -> bool:
    """Not shown in the browser: system folders and Plank's data directory (bar its library)."""
    if is_system_folder(path):
        return True
    data = _resolved(settings.DATA_DIR)
    return _within(data, path) and not _plank_library(path)
