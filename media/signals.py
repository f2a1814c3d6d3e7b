"""What the library tells whoever fetches titles (the torrents app connects to these).

Both are sent inside the change's transaction, so a receiver's writes commit with it or not at
all (a crash never leaves a title without the download it asked for).
"""

from __future__ import annotations

from django.dispatch import Signal

# A title was added that needs its bytes (it has a magnet). Arguments: ``title``.
title_added = Signal()

# A title is about to be deleted. Arguments: ``title``, ``delete_files`` (also remove what was
# downloaded for it).
title_deleting = Signal()

# An admin approved a person's request for a title (media.requests; sent after the commit).
# Arguments: ``title``, ``request`` (the ``media.models.Request``, with the note and, when the
# person picked one, the release's name and magnet). Whoever finds releases starts the search
# and the download (the torrents app connects to it).
request_approved = Signal()
