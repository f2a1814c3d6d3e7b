"""What the torrents app tells the rest of Plank."""

from __future__ import annotations

from django.dispatch import Signal

# A title's download has every file it wants (sent after the commit). Arguments: ``title``.
# The library files it (media.library_import); other listeners may tell people.
download_completed = Signal()
