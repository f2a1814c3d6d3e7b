"""One truthful state for a title, with its reason in words: what cards, the title page and the
downloads page show (``{% status_chip title %}``, media/templatetags/status_chip.py).

:func:`status_of` reads the title, its download (only through ``media.downloading.download_of``)
and how far filing it into the library has come (the title's ``status_detail`` while remuxing,
its videos' ``path`` and ``missing_since``), and answers one :class:`TitleStatus`:

============  =====================================================================
state         when
============  =====================================================================
wanted        no magnet yet (a wanted title waits for a release)
metadata      the download asks the swarm for the torrent's file list
waiting       no peers: none found for the magnet, or none connected mid-download
checking      the torrent's files are being vetted (what to keep, what to refuse)
downloading   bytes are coming, with the fraction done, speed, peers and time left
paused        someone paused it
stalled       downloading, but no data for ``STALLED_AFTER`` seconds (see below)
importing     downloaded, queued to be filed into the library
converting    being remuxed into a browser-playable MP4, with the fraction done
ready         in the library and playable (the reason says when it plays only elsewhere)
missing       a video is gone from its folder, or the title has no video at all
error         the download or the filing failed: the reason in words
removing      being deleted
============  =====================================================================

**Stalled.** The engine writes a download's progress columns (and ``progress_at``) only when
libtorrent reports a change of the torrent's status (``state_update_alert`` lists only torrents
whose status changed) and then at most every ``PLANK_DOWNLOAD_SAVE_SECONDS``. A torrent that
receives bytes changes its status all the time, so its ``progress_at`` stays within a few
seconds of now; a ``progress_at`` older than ``STALLED_AFTER`` (two minutes) means no byte came
for that long (or the engine is not running). A download that never wrote progress counts from
when its current search for peers began (``searching_since``). A fresh row with no peers and no
speed is *waiting for peers*, not stalled: it says so at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.timesince import timesince

from media import live
from media.downloading import DownloadRow, download_of
from media.library_import import REMUXING
from media.models import MediaFile, Status, Title
from plank.live.keys import to_path
from plank.templatetags.formats import eta as eta_words
from plank.templatetags.formats import percent, rate

STALLED_AFTER = timedelta(minutes=2)

WANTED = "wanted"
METADATA = "metadata"
WAITING = "waiting"
CHECKING = "checking"
DOWNLOADING = "downloading"
PAUSED = "paused"
STALLED = "stalled"
IMPORTING = "importing"
CONVERTING = "converting"
READY = "ready"
MISSING = "missing"
ERROR = "error"
REMOVING = "removing"

LABELS = {
    WANTED: "Wanted",
    METADATA: "Fetching metadata",
    WAITING: "Waiting for peers",
    CHECKING: "Checking",
    DOWNLOADING: "Downloading",
    PAUSED: "Paused",
    STALLED: "Stalled",
    IMPORTING: "Importing",
    CONVERTING: "Converting",
    READY: "Ready",
    MISSING: "Missing file",
    ERROR: "Error",
    REMOVING: "Removing",
}

# What the chip's colour says: working on it, fine, needs a look, broken.
TONES = {
    WANTED: "idle",
    METADATA: "busy",
    WAITING: "warn",
    CHECKING: "busy",
    DOWNLOADING: "busy",
    PAUSED: "idle",
    STALLED: "warn",
    IMPORTING: "busy",
    CONVERTING: "busy",
    READY: "ok",
    MISSING: "bad",
    ERROR: "bad",
    REMOVING: "idle",
}

# The torrents app's Download.State values (media never imports torrents: the strings are the
# interface, listed in media/downloading.py's DownloadRow).
_D_METADATA, _D_VETTING, _D_DOWNLOADING = "metadata", "vetting", "downloading"
_D_PAUSED, _D_ERROR, _D_NO_PEERS = "paused", "error", "no_peers"
_D_SEEDING, _D_COMPLETE = "seeding", "complete"

_PERCENT = re.compile(r"(\d{1,3})%\s*$")


@dataclass(frozen=True)
class TitleStatus:
    state: str
    reason: str
    fraction: float | None = None  # 0..1 when the state has one (downloading, converting, ...)
    live_key: str | None = None  # the key path whose ``set`` frames update it in place
    rate: int | None = None  # bytes per second, while downloading
    peers: int | None = None
    eta: int | None = None  # seconds left, if known

    @property
    def label(self) -> str:
        return LABELS[self.state]

    @property
    def tone(self) -> str:
        return TONES[self.state]

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


def status_of(title: Title, now: datetime | None = None) -> TitleStatus:
    """The title's one state, with its reason (``now``: for tests)."""
    now = now or timezone.now()
    if title.status == Status.REMOVED:
        return TitleStatus(REMOVING, "Being deleted from the library.")
    download = download_of(title)
    if download is not None and download.state not in (_D_SEEDING, _D_COMPLETE):
        return _downloading(title, download, now)
    return _after_download(title, download)


def _downloading(title: Title, d: DownloadRow, now: datetime) -> TitleStatus:
    key = to_path(live.download(title.pk))
    done = percent(d.progress)
    if d.state == _D_ERROR:
        return TitleStatus(ERROR, d.error or title.status_detail or "The download failed.")
    if d.state == _D_METADATA:
        who = (
            f"{d.peers} peer{'s' if d.peers != 1 else ''} connected" if d.peers else "no peers yet"
        )
        waited = now - d.searching_since >= timedelta(minutes=1)
        since = f", for {timesince(d.searching_since, now, depth=1)}" if waited else ""
        return TitleStatus(
            METADATA, f"Asking the swarm for the list of files ({who}{since}).", None, key
        )
    if d.state == _D_NO_PEERS:
        reason = title.status_detail or "No peers found for this magnet yet."
        return TitleStatus(WAITING, f"{reason} Retry, or find another release.", None, key)
    if d.state == _D_VETTING:
        return TitleStatus(CHECKING, "Checking the files in the torrent.", None, key)
    if d.state == _D_PAUSED:
        return TitleStatus(PAUSED, f"Paused at {done}.", d.progress, key)
    quiet_since = d.progress_at or d.searching_since
    if quiet_since is not None and now - quiet_since >= STALLED_AFTER:
        since = timesince(quiet_since, now, depth=1)
        return TitleStatus(
            STALLED,
            f"No data for {since} ({done} done). Retry, or find another release.",
            d.progress,
            key,
        )
    if not d.peers and not d.download_rate:
        return TitleStatus(WAITING, f"No peers connected ({done} done).", d.progress, key)
    peers = f"{d.peers} peer{'s' if d.peers != 1 else ''}"
    left = f", {eta_words(d.eta)} left" if d.eta is not None else ""
    return TitleStatus(
        DOWNLOADING,
        f"{rate(d.download_rate)} from {peers}{left}.",
        d.progress,
        key,
        rate=d.download_rate,
        peers=d.peers,
        eta=d.eta,
    )


def _after_download(title: Title, download: DownloadRow | None) -> TitleStatus:
    """A title whose bytes are here (or that has no download): filing, ready, missing, error."""
    detail = title.status_detail
    if title.status == Status.ERROR:
        return TitleStatus(ERROR, detail or "Something went wrong with this title.")
    if title.status == Status.PENDING:
        if not title.magnet:
            return TitleStatus(WANTED, detail or "Not downloaded yet: no release chosen.")
        return TitleStatus(METADATA, "Waiting for the download to start.")
    if title.status == Status.DOWNLOADING and download is None:
        return TitleStatus(DOWNLOADING, detail or "Downloading.")
    key = to_path(live.filing(title.pk))
    if detail.startswith(REMUXING):
        found = _PERCENT.search(detail)
        fraction = int(found.group(1)) / 100 if found else None
        return TitleStatus(CONVERTING, "Making it playable in the browser.", fraction, key)
    videos = [f for f in title.files.all() if f.role == MediaFile.Role.VIDEO]
    missing = [f for f in videos if f.missing_since is not None]
    if not videos:
        return TitleStatus(MISSING, "There is no video file for this title.")
    if missing:
        if len(videos) == 1:
            return TitleStatus(MISSING, "The video file is gone from its folder.")
        return TitleStatus(
            MISSING, f"{len(missing)} of {len(videos)} video files are gone from their folders."
        )
    if download is not None and any(not f.path and not f.container for f in videos):
        return TitleStatus(IMPORTING, "Downloaded; filing it into the library.", None, key)
    if title.status == Status.DOWNLOADING:  # the download finished, the title not yet
        return TitleStatus(IMPORTING, "Downloaded; filing it into the library.", None, key)
    if detail:
        return TitleStatus(READY, detail)
    if download is not None and download.state == _D_SEEDING:
        return TitleStatus(READY, "In the library, and sharing it with others.")
    return TitleStatus(READY, "In the library.")
