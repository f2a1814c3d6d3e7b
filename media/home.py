"""The home screen's rows above the library grid: what a person comes back for.

Each row is a live partial of the library page (``/?partial=row&row=<name>``) with its own key
under ``("media", "home")``, so a change to any title (its status, a new one, a download's state:
all announced under ``("media",)``) refetches the rows; a download's progress moves the bars in
place through its ``set`` frames (``("download", <title id>)``). A row with nothing in it is
rendered hidden, so it can appear when it gains something.

Rows, each at most :data:`ROW_LIMIT` items and one or two queries:

- ``continue``: what this person started and didn't finish (``media.playback``), newest first.
  Positions are per person; another person's never shows.
- ``downloading``: titles downloading now, with their progress.
- ``recent``: the newest titles in the library (complete ones: downloads have their row).
- ``upnext`` (second): for each show this person is watching (their latest position in it is on an
  episode they finished), the next episode that has a video file.
- rows other apps register (:func:`register`): ``media`` must not import ``browse``, which adds
  TMDB's Trending when a key is set (browse/home_rows.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from media import playback
from media.models import Kind, MediaFile, PlaybackPosition, Status, Title
from plank.live.keys import Key, to_path

ROW_LIMIT = 12
HOME: Key = ("media", "home")
BUILT_IN = ("continue", "upnext", "downloading", "recent")
SHARED = ("downloading", "recent")  # the rows that are not per person
LABELS = {
    "continue": "Continue watching",
    "downloading": "Downloading now",
    "recent": "Recently added",
    "upnext": "Up next",
}
# Positions read for a person's rows: their recent history, enough for a dozen titles.
HISTORY = 200


def key(name: str) -> Key:
    return (*HOME, name)


# --- rows other apps add ---------------------------------------------------------------------

Render = Callable[[HttpRequest, str], str]


@dataclass(frozen=True)
class ExtraRow:
    name: str
    label: str
    key: Key  # the live key whose invalidation refetches the row
    render: Render  # (request, url of the row's partial) -> its HTML, "" when it has nothing
    available: Callable[[], bool]


_extra: dict[str, ExtraRow] = {}


def register(
    name: str,
    label: str,
    live_key: Key,
    render: Render,
    *,
    available: Callable[[], bool] = lambda: True,
) -> None:
    """Add (or replace) a row after the built-in ones; ``available()`` says whether to show it
    at all (no TMDB key: no Trending row)."""
    if name in BUILT_IN:
        raise ValueError(f"{name!r} is a built-in row")
    _extra[name] = ExtraRow(name, label, live_key, render, available)


def extra_row(name: str) -> ExtraRow | None:
    row = _extra.get(name)
    return row if row is not None and row.available() else None


# --- the built-in rows -----------------------------------------------------------------------


@dataclass
class Episodic:
    """An item of the Up next row: the show, the episode's file, and where to start it."""

    title: Title
    file: MediaFile
    label: str = field(default="")

    @property
    def watch_url(self) -> str:
        return f"{reverse('watch', args=[self.title.pk])}?file={self.file.pk}"


def downloading() -> list[Title]:
    """Titles downloading now, newest first: one query (the download joined; a title's files
    are read only by the rare chip of a download that finished before its title did)."""
    qs = Title.objects.in_library().filter(status=Status.DOWNLOADING).order_by("-added_at", "-id")
    return list(qs.select_related("download").prefetch_related("files")[:ROW_LIMIT])


def recently_added() -> list[Title]:
    """The newest titles that are in the library (complete); those on their way have their
    own row. One query."""
    qs = Title.objects.in_library().filter(status=Status.COMPLETE).order_by("-added_at", "-id")
    return list(qs[:ROW_LIMIT])


def _episode_label(file: MediaFile) -> str:
    episode = file.episode
    if episode is None:
        return ""
    code = f"S{episode.season.number:02d}E{episode.number:02d}"
    return f"{code} · {episode.name}" if episode.name else code


class History:
    """A person's recent playback positions, read once (one query) for both of their rows."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self._rows: list[PlaybackPosition] | None = None

    @property
    def rows(self) -> list[PlaybackPosition]:
        if self._rows is None:
            if not getattr(self.user, "is_authenticated", False):
                self._rows = []
            else:
                self._rows = list(
                    PlaybackPosition.objects.filter(
                        user=self.user, title__in=Title.objects.in_library()
                    )
                    .select_related("title", "file__episode__season")
                    .order_by("-updated_at", "-id")[:HISTORY]
                )
        return self._rows

    def continue_watching(self) -> list[PlaybackPosition]:
        """What the person started and didn't finish, newest first, one per title: the rules
        of ``media.playback.continue_watching`` (the latest started row of a title decides)."""
        result: list[PlaybackPosition] = []
        seen: set[int] = set()
        for row in self.rows:
            if row.position <= playback.STARTED_AFTER or row.title_id in seen:
                continue
            seen.add(row.title_id)
            if playback.is_in_progress(row.position, row.duration):
                row.progress_percent = playback.percent(row.position, row.duration)  # type: ignore[attr-defined]
                result.append(row)
                if len(result) >= ROW_LIMIT:
                    break
        return result

    def up_next(self) -> list[Episodic]:
        """The next episode, with a file, of each show whose latest watched episode the person
        finished (an unfinished one is in Continue watching instead). One more query, for the
        episode files of those shows, and only when there are such shows; a show with no later
        episode on disk has nothing up next."""
        last: dict[int, PlaybackPosition] = {}
        for row in self.rows:
            if row.title.kind == Kind.TV and row.file is not None and row.file.episode_id:
                last.setdefault(row.title_id, row)
        finished = [
            row
            for row in last.values()
            if playback.is_finished(row.position, row.duration or row.file.duration)
        ][:ROW_LIMIT]
        if not finished:
            return []
        files = (
            MediaFile.objects.videos()
            .filter(
                title_id__in=[row.title_id for row in finished],
                episode__isnull=False,
                missing_since__isnull=True,
            )
            .select_related("episode__season")
            .order_by("episode__season__number", "episode__number", "-size", "id")
        )
        by_show: dict[int, list[MediaFile]] = {}
        for file in files:
            by_show.setdefault(file.title_id, []).append(file)
        result = []
        for row in finished:
            watched = row.file.episode
            here = (watched.season.number, watched.number)
            for file in by_show.get(row.title_id, []):
                if (file.episode.season.number, file.episode.number) > here:
                    result.append(Episodic(row.title, file, _episode_label(file)))
                    break
        return result


# --- what the page renders -------------------------------------------------------------------


class HomeRow:
    """One row as the template sees it: its name, heading, live key, the URL of its partial,
    and its items (read when the template first asks) or, for a registered row, its HTML."""

    def __init__(
        self,
        name: str,
        label: str,
        live_key: Key,
        url: str,
        read: Callable[[], Any],
        *,
        deferred: bool = False,
    ) -> None:
        self.name, self.label, self.key, self.url = name, label, live_key, url
        # A registered row (an upstream's: TMDB) is fetched after the page, so a slow or
        # failing upstream never delays the library.
        self.deferred = deferred
        # The same for everyone: its HTML comes from the per-key cache until its key goes stale.
        self.shared = name in SHARED
        self._read = read
        self._value: Any = None
        self._done = False

    def _get(self) -> Any:
        if not self._done:
            self._value, self._done = self._read(), True
        return self._value

    @property
    def key_path(self) -> str:
        return to_path(self.key)

    @property
    def items(self) -> list[Any]:
        value = self._get()
        return value if isinstance(value, list) else []

    @property
    def html(self) -> str:
        value = self._get()
        return value if isinstance(value, str) else ""

    @property
    def empty(self) -> bool:
        return not self._get()


def _readers(history: History) -> dict[str, Callable[[], Any]]:
    return {
        "continue": history.continue_watching,
        "upnext": history.up_next,
        "downloading": downloading,
        "recent": recently_added,
    }


def _url(base_url: str, name: str) -> str:
    return f"{base_url}?partial=row&row={name}"


def row(
    request: HttpRequest, name: str, base_url: str, *, history: History | None = None
) -> HomeRow | None:
    """The row called ``name`` for ``request.user``, rendered whole (its live refresh, or a
    registered row loading itself); None: no such row, or not offered now."""
    url = _url(base_url, name)
    if name in BUILT_IN:
        read = _readers(history or History(request.user))[name]
        return HomeRow(name, LABELS[name], key(name), url, read)
    extra = extra_row(name)
    if extra is None:
        return None
    return HomeRow(name, extra.label, extra.key, url, lambda: extra.render(request, url))


def rows(request: HttpRequest, base_url: str) -> list[HomeRow]:
    """Every row of the home screen, in order, each read only when rendered.

    A registered row is a placeholder that loads itself after the page and asks only then
    whether it is offered at all (no TMDB key: it renders nothing and goes), so a slow
    upstream never delays the library and the page itself reads no preferences for it."""
    history = History(request.user)
    built_in = [
        HomeRow(name, LABELS[name], key(name), _url(base_url, name), _readers(history)[name])
        for name in BUILT_IN
    ]
    extras = [
        HomeRow(extra.name, extra.label, extra.key, _url(base_url, extra.name), str, deferred=True)
        for extra in _extra.values()
    ]
    return built_in + extras
