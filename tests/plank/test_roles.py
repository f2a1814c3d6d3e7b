"""Every URL × every role: allowed or 403, from one table.

``TABLE`` names every URL of the URLconf (the admin's aside) with who may use it. A URL that is
not in the table fails ``test_every_url_is_in_the_table``: whoever adds a URL adds its row. Rows:

- ``READ``: only reads (GET/HEAD); a POST is refused with 405, so nothing hides a mutation;
- ``OPEN``: the login wall's exceptions (logging in, an invitation link, the first run);
- ``EVERYONE``: any logged-in person (members browse, search, add, request, watch);
- ``OWN``: admins always; a member only for what they added;
- ``ASKER``: only the person the object belongs to (a request's author), admins included;
- ``ADMINS``: the owner and admins;
- ``OWNER``: the owner only.

Each mutating row builds what its request needs (``build(world, user, mine)`` gives the URL's
arguments and the POST's data, for an object of that user's when ``mine``). The test then
sends the POST as the owner, an admin and a member (on their own object and on another
person's, for ``OWN`` and ``ASKER``) and checks: refused with 403 exactly when the row says so,
and otherwise answered by the view itself (not 403, 404 or 405).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from media import requests
from plank.models import Invite
from tests.factories import make_download, make_folder, make_indexer, make_title, make_user
from tests.plank.test_login_wall import _example as example_path
from torrents.models import BlockedRelease

pytestmark = pytest.mark.django_db

READ, OPEN, EVERYONE, OWN, ASKER, ADMINS, OWNER = (
    "read",
    "open",
    "everyone",
    "own",
    "asker",
    "admins",
    "owner",
)
ROLES = ("owner", "admin", "member")
_serial = itertools.count(1)

Built = tuple[dict[str, Any], dict[str, str]]


class World:
    """The people and objects the rows build on: a stranger owns the "not mine" objects."""

    def __init__(self) -> None:
        self.stranger = make_user("member")

    def owner_of(self, user, mine: bool):
        return user if mine else self.stranger

    def title(self, user, mine: bool, **fields):
        return make_title(added_by=self.owner_of(user, mine), **fields)

    def download(self, user, mine: bool):
        title = self.title(user, mine, status="downloading")
        make_download(title)
        return title

    def request(self, user, mine: bool):
        return requests.ask(make_title(status="pending"), self.owner_of(user, mine), "please")


@dataclass(frozen=True)
class Row:
    who: str
    build: Callable[[World, Any, bool], Built] | None = None


def _none(world: World, user, mine: bool) -> Built:
    return {}, {}


def _title(world: World, user, mine: bool) -> Built:
    return {"pk": world.title(user, mine).pk}, {}


def _title_id(world: World, user, mine: bool) -> Built:
    return {"title_id": world.title(user, mine).pk}, {"kind": "movie", "tmdb_id": "603"}


def _download(world: World, user, mine: bool) -> Built:
    return {"pk": world.download(user, mine).pk, "name": "pause"}, {}


def _request(world: World, user, mine: bool) -> Built:
    return {"pk": world.request(user, mine).pk}, {}


def _verdict(world: World, user, mine: bool) -> Built:
    return {"pk": world.request(user, mine).pk, "verdict": "decline"}, {"note": "no"}


def _blocked(world: World, user, mine: bool) -> Built:
    title = world.title(user, mine)
    block = BlockedRelease.objects.create(title=title, info_hash=f"{next(_serial):040x}")
    return {"pk": title.pk, "block_pk": block.pk}, {}


def _indexer(world: World, user, mine: bool) -> Built:
    return {"pk": make_indexer().pk}, {}


def _folder(world: World, user, mine: bool) -> Built:
    return {"pk": make_folder(f"/tmp/plank-test-roles/{next(_serial)}").pk}, {}


def _task(world: World, user, mine: bool) -> Built:
    return {"name": "outbox-prune"}, {"every": "120"}


def _person(world: World, user, mine: bool) -> Built:
    return {"pk": make_user("member").pk}, {"role": "member", "active": "0"}


def _invite(world: World, user, mine: bool) -> Built:
    made = Invite.objects.create(
        token_hash=f"{next(_serial):064x}", role="member", expires_at=timezone.now()
    )
    return {"pk": made.pk}, {}


def _kind(world: World, user, mine: bool) -> Built:
    return {"kind": "movie", "tmdb_id": 603}, {}


def _step(world: World, user, mine: bool) -> Built:
    return {"slug": "peers"}, {"dht": "on"}


TABLE: dict[str, Row] = {
    # the library (media)
    "library": Row(READ),
    "search": Row(READ),
    "add": Row(EVERYONE, lambda w, u, m: ({}, {"magnet": "nonsense", "type": "movie"})),
    "title": Row(READ),
    "delete": Row(OWN, _title),
    "watch": Row(READ),
    "position": Row(EVERYONE, lambda w, u, m: ({"pk": w.title(u, m).pk}, {"position": "12"})),
    "stream": Row(READ),
    "subtitle": Row(READ),
    "requests": Row(READ),
    "request-withdraw": Row(ASKER, _request),
    "request-decide": Row(ADMINS, _verdict),
    "library-folders": Row(READ),
    "library-folder-add": Row(ADMINS, lambda w, u, m: ({}, {"path": "/nonexistent"})),
    "library-folder-browse": Row(READ),
    "library-folder": Row(READ),
    "library-folder-scan": Row(ADMINS, _folder),
    "library-folder-cancel": Row(ADMINS, _folder),
    "library-folder-remove": Row(ADMINS, _folder),
    # discovery (browse)
    "index": Row(READ),
    "test-connection": Row(EVERYONE, _none),  # tries the key posted or stored; saves nothing
    "poster": Row(READ),
    "match": Row(OWN, _title_id),
    "details": Row(READ),
    "browse:add": Row(EVERYONE, _kind),  # as wanted (TMDB says what it is)
    "season": Row(READ),
    # finding releases and downloads (torrents)
    "torrents": Row(READ),
    "torrent-get": Row(EVERYONE, lambda w, u, m: ({}, {"q": "heat", "ref": "x"})),
    "find-releases": Row(READ),
    "find-get": Row(EVERYONE, lambda w, u, m: ({}, {"kind": "movie", "tmdb_id": "603"})),
    "title-releases": Row(READ),
    "title-find": Row(EVERYONE, _title),  # a search: it changes nobody's title
    "title-get": Row(OWN, _title),
    "title-unblock": Row(OWN, _blocked),
    "release-badge": Row(READ),
    "download-action-moved": Row(EVERYONE, _download),  # a 308 to download-action
    "downloads": Row(READ),
    "download-action": Row(OWN, _download),
    "indexer-settings": Row(READ),
    "indexer-add": Row(ADMINS, lambda w, u, m: ({}, {"name": "x", "url": "nonsense"})),
    "release-preferences": Row(ADMINS, _none),
    "indexer-edit": Row(ADMINS, _indexer),
    "indexer-delete": Row(ADMINS, _indexer),
    "indexer-test": Row(ADMINS, _indexer),
    # the project (plank)
    "system": Row(READ),
    "cache-clear": Row(ADMINS, lambda w, u, m: ({}, {"prefix": "tmdb"})),
    "tasks": Row(READ),
    "task-run": Row(ADMINS, _task),
    "task-cancel": Row(ADMINS, _task),
    "task-interval": Row(ADMINS, _task),
    "preferences": Row(ADMINS, lambda w, u, m: ({}, {"tmdb_language": "en-US"})),
    "setup": Row(OPEN),
    "setup-checklist": Row(READ),
    "setup-step": Row(ADMINS, _step),
    "favicon": Row(READ),
    "healthz": Row(OPEN),
    "login": Row(OPEN),
    "logout": Row(OPEN),
    "password_change": Row(EVERYONE, _none),
    "password_change_done": Row(READ),
    "people": Row(READ),
    "people-invite": Row(ADMINS, lambda w, u, m: ({}, {"role": "member"})),
    "people-revoke": Row(ADMINS, _invite),
    "people-role": Row(ADMINS, _person),
    "people-active": Row(ADMINS, _person),
    "people-approval": Row(ADMINS, _none),
    "invite-accept": Row(OPEN),
    "notifications": Row(READ),
    "notifications-read": Row(EVERYONE, _none),  # each person marks only their own
}


def _walk(patterns, namespace: str = "", prefix: str = ""):
    """(name with its namespace, the whole route) of every named URL but the admin's."""
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.app_name == "admin":
                continue
            inner = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, inner, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield (
                (namespace + p.name) if p.name else prefix + str(p.pattern),
                prefix + str(p.pattern),
            )


def routes() -> dict[str, str]:
    return dict(_walk(get_resolver().url_patterns))


def url_names() -> list[str]:
    return sorted(routes())


def _key(name: str) -> str:
    """The table names a namespaced URL by its namespace only where two share a name."""
    return name if name in TABLE else name.split(":")[-1]


def test_every_url_is_in_the_table() -> None:
    names = url_names()
    assert len(names) > 40, "the walk must find the app's URLs"
    missing = [n for n in names if _key(n) not in TABLE]
    assert missing == [], f"add these URLs to TABLE in {__file__}: {missing}"
    stale = sorted(set(TABLE) - {_key(n) for n in names})
    assert stale == [], f"these rows name no URL any more: {stale}"


def _reverse(name: str, kwargs: dict[str, Any]) -> str:
    full = next(n for n in url_names() if _key(n) == name)
    return reverse(full, kwargs=kwargs)


def _allowed(who: str, role: str, mine: bool) -> bool:
    return {
        EVERYONE: True,
        OWN: role in ("owner", "admin") or mine,
        ASKER: mine,
        ADMINS: role in ("owner", "admin"),
        OWNER: role == "owner",
    }[who]


def _cases():
    for name, row in TABLE.items():
        if row.who in (READ, OPEN):
            continue
        for role in ROLES:
            for mine in (True, False) if row.who in (OWN, ASKER) else (True,):
                yield pytest.param(name, role, mine, id=f"{name}-{role}{'' if mine else '-others'}")


@pytest.mark.parametrize(("name", "role", "mine"), list(_cases()))
def test_a_mutation_is_allowed_or_403_as_the_table_says(name: str, role: str, mine: bool) -> None:
    row = TABLE[name]
    assert row.build is not None, f"{name} needs a build function"
    world = World()
    user = make_user(role)
    kwargs, data = row.build(world, user, mine)
    client = Client()
    client.force_login(user)
    response = client.post(_reverse(name, kwargs), data)
    if _allowed(row.who, role, mine):
        assert response.status_code not in (403, 404, 405), (
            f"{role} may POST {name} but got {response.status_code}: {response.content[:300]!r}"
        )
    else:
        assert response.status_code == 403, (
            f"{role} must not POST {name}{'' if mine else ' on another person’s'}, "
            f"got {response.status_code}"
        )
        assert response.content.strip(), "a 403 says why"


@pytest.mark.parametrize("name", [n for n, r in TABLE.items() if r.who == READ])
def test_a_read_only_url_refuses_a_post(name: str) -> None:
    """So the table is honest: a URL listed as only reading takes no POST."""
    route = next(r for n, r in routes().items() if _key(n) == name)
    client = Client()
    client.force_login(make_user("owner"))
    response = client.post(example_path(route))
    assert response.status_code == 405, f"{name} answered a POST with {response.status_code}"
