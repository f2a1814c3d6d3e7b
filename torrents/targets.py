"""What a title's releases are searched for, and which releases are that title's.

:class:`TitleTarget` is a library title or a TMDB title from Browse, with its ids; its query goes
by id where a feed's caps allow and by title and year elsewhere (``torrents.search.params_for``).
:func:`matches` keeps only the releases of that title: the ids agree, else the parsed title (and
the year, within one) does; for a show, the season (and episode) asked for.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from media.models import Episode, Kind, Title
from plank.live.keys import Key
from torrents import live
from torrents.results import Result
from torrents.search import Query
from torrents.selection import Target


@dataclass(frozen=True)
class TitleTarget:
    kind: str  # "movie" or "tv"
    title: str
    year: int | None = None
    original_title: str = ""
    tmdb_id: int | None = None
    imdb_id: str = ""
    tvdb_id: int | None = None
    season: int | None = None
    episode: int | None = None
    minutes: int | None = None
    episodes_in_season: int | None = None
    title_pk: int | None = None  # the library title, if there is one

    @classmethod
    def of(cls, title: Title, season: int | None = None) -> TitleTarget:
        """A library title; a show is searched by season (the first without files, or 1)."""
        episodes = None
        if title.kind == Kind.TV:
            numbers = sorted(title.seasons.exclude(number=0).values_list("number", flat=True))
            if season is None:
                filed = set(
                    title.files.exclude(episode=None).values_list(
                        "episode__season__number", flat=True
                    )
                )
                season = next((n for n in numbers if n not in filed), numbers[0] if numbers else 1)
            episodes = (
                Episode.objects.filter(season__show=title, season__number=season).count() or None
            )
        return cls(
            kind=title.kind,
            title=title.title,
            year=title.year,
            original_title=title.original_title,
            tmdb_id=title.tmdb_id,
            imdb_id=title.imdb_id if re.fullmatch(r"tt\d{5,10}", title.imdb_id or "") else "",
            season=season if title.kind == Kind.TV else None,
            episodes_in_season=episodes,
            title_pk=title.pk,
        )

    def query(self) -> Query:
        return Query(
            kind=self.kind,
            title=self.title,
            year=self.year,
            imdb_id=self.imdb_id,
            tmdb_id=self.tmdb_id,
            tvdb_id=self.tvdb_id,
            season=self.season,
            episode=self.episode,
        )

    def identity(self) -> tuple[str | int, ...]:
        """How the release cache names this title: by TMDB / IMDb id, else the library's id."""
        tail: tuple[str | int, ...] = ()
        if self.kind == Kind.TV:
            tail = (f"s{self.season or 0}", *((f"e{self.episode}",) if self.episode else ()))
        if self.tmdb_id:
            return (self.kind, "tmdb", self.tmdb_id, *tail)
        if self.imdb_id:
            return (self.kind, "imdb", self.imdb_id, *tail)
        if self.title_pk:
            return (self.kind, "title", self.title_pk, *tail)
        return (self.kind, "name", slug(self.title) or "untitled", self.year or 0, *tail)

    def cache_key(self) -> Key:
        return live.releases(*self.identity())

    def selection_target(self) -> Target:
        return Target(
            kind=self.kind,
            season=self.season,
            episode=self.episode,
            minutes=self.minutes,
            episodes_in_season=self.episodes_in_season,
        )

    @property
    def label(self) -> str:
        name = f"{self.title} ({self.year})" if self.year else self.title
        if self.kind == Kind.TV and self.season is not None:
            name += f" · season {self.season}" + (
                f" episode {self.episode}" if self.episode else ""
            )
        return name


def slug(text: str) -> str:
    """Lowercase letters and digits only, accents dropped, "&" as "and": for comparing titles."""
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    text = text.lower().replace("&", " and ")
    return re.sub(r"[^a-z0-9]+", "", text)


def _names(target: TitleTarget) -> set[str]:
    names = {slug(target.title), slug(target.original_title)} - {""}
    return names | {n[3:] for n in names if n.startswith("the") and len(n) > 6}


def matches(result: Result, target: TitleTarget) -> bool:
    """Whether ``result`` is a release of the target: its ids agree, else its parsed title (and
    year, within one) does; for a show, the season (and episode) must be the one asked for."""
    release = result.release
    if target.imdb_id and result.imdb_id:
        same = result.imdb_id == target.imdb_id
    elif target.tmdb_id and result.tmdb_id and target.kind == Kind.MOVIE:
        same = result.tmdb_id == target.tmdb_id
    else:
        name = slug(release.title)
        same = name in _names(target) or (name.startswith("the") and name[3:] in _names(target))
        if same and target.year and release.year and target.kind == Kind.MOVIE:
            same = abs(target.year - release.year) <= 1
    if not same:
        return False
    if target.kind == Kind.MOVIE:
        return release.season is None and not release.episodes
    seasons = release.seasons or ((release.season,) if release.season is not None else ())
    if target.season is not None and target.season not in seasons:
        return False
    return not (
        target.episode is not None and release.episodes and target.episode not in release.episodes
    )
