"""The one test world: small builders for the rows most tests need.

Each builder fills only what a test does not care about and takes any field as a keyword, so a
test says what matters to it and nothing else::

    title = make_title(title="Heat", year=1995)
    wanted = make_title(magnet=MATRIX, status="pending")  # its info_hash from the magnet
    show = make_show(seasons={1: 3})  # season 1 of three episodes
    pilot = make_show(seasons={1: ["Pilot"]})  # episodes by name
    video = make_file(title, path="library/Heat (1995)/Heat (1995).mp4")
    admin = make_user("admin")
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model

from media.magnets import parse_magnet
from media.models import Episode, Kind, LibraryFolder, MediaFile, Season, Status, Title
from torrents.models import Download, Indexer

_serial = itertools.count(1)

ROLES = ("owner", "admin", "member")
PASSWORD = "correct horse battery"


def new_info_hash() -> str:
    """A made-up v1 info hash (40 hex digits), new on every call."""
    return f"{next(_serial):040x}"


def make_title(**fields: Any) -> Title:
    """A movie in the library (status complete unless given); given a ``magnet``, its info hash
    too."""
    if fields.get("magnet") and "info_hash" not in fields:
        fields["info_hash"] = parse_magnet(fields["magnet"]).info_hash
    fields.setdefault("title", f"Title {next(_serial)}")
    fields.setdefault("kind", Kind.MOVIE)
    fields.setdefault("status", Status.COMPLETE)
    return Title.objects.create(**fields)


def make_show(seasons: dict[int, int | list[str]] | None = None, **fields: Any) -> Title:
    """A TV show with ``seasons``: {season number: episode count, or the episodes' names}
    (default one season of two episodes, named "Episode 1" and "Episode 2")."""
    fields["kind"] = Kind.TV
    show = make_title(**fields)
    for number, episodes in ({1: 2} if seasons is None else seasons).items():
        season = Season.objects.create(show=show, number=number)
        if isinstance(episodes, int):
            episodes = [f"Episode {episode}" for episode in range(1, episodes + 1)]
        for episode, name in enumerate(episodes, start=1):
            Episode.objects.create(season=season, number=episode, name=name)
    return show


def make_file(title: Title, **fields: Any) -> MediaFile:
    """A video of ``title`` (a subtitle with ``role=MediaFile.Role.SUBTITLE``)."""
    fields.setdefault("role", MediaFile.Role.VIDEO)
    fields.setdefault("size", 1_000_000)
    return MediaFile.objects.create(title=title, **fields)


def make_download(title: Title, **fields: Any) -> Download:
    """``title``'s download row (no torrent behind it)."""
    info_hash = title.info_hash or new_info_hash()
    fields.setdefault("info_hash", info_hash)
    fields.setdefault("save_path", f"/tmp/plank-test-downloads/{info_hash}")
    return Download.objects.create(title=title, **fields)


def make_indexer(**fields: Any) -> Indexer:
    """A plain Torznab indexer (give ``url`` and ``api_key`` of a fake server to search it)."""
    fields.setdefault("name", f"Indexer {next(_serial)}")
    fields.setdefault("url", "http://127.0.0.1:9/api")
    return Indexer.objects.create(**fields)


def make_folder(path: Any, kind: str = "movies", **fields: Any) -> LibraryFolder:
    """A library folder row for ``path`` (made if missing; no validation: see media.folders)."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    fields.setdefault("name", f"Folder {next(_serial)}")
    return LibraryFolder.objects.create(path=str(folder.resolve()), kind=kind, **fields)


def make_user(role: str = "member", username: str | None = None, **fields: Any):
    """A person with ``role``: ``owner`` (superuser), ``admin`` (staff) or ``member``."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    users = get_user_model().objects
    username = username or f"{role}{next(_serial)}"
    email = f"{username}@example.com"
    if role == "owner":
        return users.create_superuser(username, email, PASSWORD, **fields)
    return users.create_user(username, email, PASSWORD, is_staff=role == "admin", **fields)
