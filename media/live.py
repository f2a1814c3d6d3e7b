"""The library's live keys, and which of its models' changes make which keys stale.

``("media",)`` names everything the library shows: the lists and counts, every title page.
``("download", <title id>)`` is a title's transfer: whoever downloads titles (the torrents app)
pushes its progress as ``set`` frames under it; a download's state changes are announced under
``("download",)``, which the downloads list shows.
``("import", <title id>)`` carries the progress of filing a title into the library.
"""

from __future__ import annotations

from media.models import (
    Episode,
    LibraryFolder,
    MediaFile,
    PlaybackPosition,
    Request,
    Scan,
    ScanProblem,
    Season,
    Title,
)
from plank.live.declarations import announce, quiet
from plank.live.keys import Key

LIBRARY: Key = ("media",)
COUNTS: Key = ("media", "counts")
LISTS: Key = ("media", "list")  # every tab's grid
DOWNLOADS: Key = ("download",)


def library_list(kind: str) -> Key:
    """The grid of one tab (``movie`` or ``tv``)."""
    return (*LISTS, kind)


def title(pk: int) -> Key:
    """A title's page."""
    return ("media", pk)


def download(title_pk: int) -> Key:
    """A title's download: its progress frames and its state."""
    return ("download", title_pk)


def filing(title_pk: int) -> Key:
    """The progress of filing a title into the library (remuxing)."""
    return ("import", title_pk)


REQUESTS: Key = ("requests",)  # the requests page and the count of those waiting (issue 11)
FOLDERS: Key = ("folders",)  # the library folders page, and each folder's page under it


def folder_page(folder_pk: int) -> Key:
    """A library folder's page: its scans, its files' outcomes, its watch."""
    return (*FOLDERS, folder_pk)


def scan_progress(folder_pk: int) -> Key:
    """A folder's running scan, pushed as ``set`` frames (the counts, the current file)."""
    return ("scan", folder_pk)


# Any change to a title (its status included) shows in the lists, the counts and its page.
announce(Title, lambda t: [LIBRARY])
announce(Season, lambda s: [title(s.show_id)])
announce(Episode, lambda e: [title(e.season.show_id)])
announce(MediaFile, lambda f: [title(f.title_id)])
quiet(
    PlaybackPosition,
    "where a person stopped is read when a page loads; it changes every few seconds while they watch",
)
# Everyone's requests page refetches its list (each sees their own, admins all): who asked for
# what is never in the frame, only that the list changed.
announce(Request, lambda r: [REQUESTS])
announce(LibraryFolder, lambda f: [FOLDERS])
announce(Scan, lambda s: [FOLDERS])
announce(ScanProblem, lambda p: [folder_page(p.folder_id)])
