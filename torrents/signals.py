"""What the torrents app tells the rest of Plank."""

from __future__ import annotations

from django.dispatch import Signal

# A title's download has every file it wants (sent after the commit). Arguments: ``title``.
# This app's own receiver queues the filing into the library (media.library_import); others
# may tell people.
download_completed = Signal()

# A title's download will not finish as it is (sent after the commit). Arguments: ``title``,
# ``reason`` (in words, as the page shows it), ``cause``: "refused" (vetting refused the
# torrent's files), "no_peers" (no metadata in time) or "error" (the engine failed). Whoever
# chose the release may pick another (release selection's automatic fallback).
download_failed = Signal()

REFUSED, NO_PEERS, ERROR = "refused", "no_peers", "error"
