"""The torrents app's live declarations. Its keys are the library's (``media.live.download``):
the library shows a title's download, this app keeps it."""

from __future__ import annotations

from media.live import DOWNLOADS, LIBRARY
from plank.live.declarations import announce, quiet
from torrents.models import Download, EngineCommand

# A download's state shows on cards, title pages and the downloads page. Its progress is not a
# change to announce: it is pushed as ``set`` frames and written with ``QuerySet.update``.
announce(Download, lambda d: [LIBRARY, DOWNLOADS])
quiet(EngineCommand, "a request to the engine process; what it changes is announced when applied")
