"""How the library reaches a title that is still downloading, without knowing who downloads it.

``media`` never imports ``torrents``. The torrents app plugs in, from its ``AppConfig.ready``:

- the piece reader of this process (``register_reader``), which streaming uses for a file that
  is not all on disk yet; a process without the engine has none;
- the receivers of ``media.signals`` (a title added, a title about to be deleted);
- the template of a title's download panel on its page (``register_panel``).

A title's download, when it has one, is the one-to-one row the torrents app hangs on
``title.download``; the library's Python code reads it only through :func:`download_of`, as a
:class:`DownloadRow`, and its templates read only ``download.progress`` (the relation's name
``download`` is part of this interface: ``select_related("download")``). ``media.status`` turns
the row into the one state a title shows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from django.core.exceptions import ObjectDoesNotExist

from media.models import Status

if TYPE_CHECKING:
    from media.models import Title


class DownloadRow(Protocol):
    """What the library may read of a title's download (``media.status`` reads the state and
    the progress columns)."""

    save_path: str
    progress: float
    state: str  # metadata | vetting | downloading | paused | seeding | complete | error | no_peers
    error: str  # why it failed, in words (state "error")
    download_rate: int  # bytes per second
    peers: int
    eta: int | None  # seconds left, if known
    progress_at: datetime | None  # when the progress columns were last written
    searching_since: datetime  # when the current search for peers began

    @property
    def finished(self) -> bool: ...


class PieceReader(Protocol):
    """Reads of a file that is still downloading (the BitTorrent engine, in its process).

    Torrents are named by info hash (hex), files by their index in the torrent. ``read`` raises
    :class:`TimeoutError` (or a subclass) when the bytes do not come within ``timeout``.
    """

    def __contains__(self, info_hash: object) -> bool: ...

    def have_range(self, info_hash: str, file_index: int, start: int, end: int) -> bool: ...

    def piece_span(self, info_hash: str, file_index: int, offset: int) -> tuple[int, int]: ...

    async def read(
        self,
        info_hash: str,
        file_index: int,
        offset: int,
        length: int,
        timeout: float = 30.0,
        *,
        urgent: bool = True,
    ) -> bytes: ...

    def prioritise_for_streaming(self, info_hash: str, file_index: int) -> None: ...


_panel: str | None = None


def register_panel(template_name: str) -> None:
    """Name the template that shows a title's download on its page (it gets ``title`` and
    ``download`` in its context)."""
    global _panel
    _panel = template_name


def panel_template() -> str | None:
    return _panel


def _no_reader() -> PieceReader | None:
    return None


_reader: Callable[[], PieceReader | None] = _no_reader


def register_reader(provider: Callable[[], PieceReader | None]) -> None:
    """Name the function that gives this process's piece reader (None while it has none)."""
    global _reader
    _reader = provider


def current_reader() -> PieceReader | None:
    """This process's piece reader, or None when the engine runs elsewhere (or nowhere)."""
    return _reader()


def still_downloading(title: Title) -> bool:
    """Whether the title's bytes are still coming (so its files may be incomplete): its
    download says so when it has one, else its status."""
    download = download_of(title)
    if download is not None:
        return not download.finished
    return title.status in (Status.PENDING, Status.DOWNLOADING)


def download_of(title: Title) -> DownloadRow | None:
    """The title's download row, or None when it has none."""
    try:
        return title.download  # type: ignore[attr-defined,no-any-return]
    except (AttributeError, ObjectDoesNotExist):
        return None
