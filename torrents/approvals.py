"""A member's Get that needs an admin's approval (``media.requests``), and what approval starts.

``needs_approval(user)`` is the library's rule. When it holds, Get does not download: the title
(a wanted one, made here if the release is not in the library yet) is asked for, with the
release the person picked (``ask_for_result``) or none (``ask_for_title``). When an admin
approves (``media.signals.request_approved``, :func:`on_request_approved`), the release picked
starts if its magnet is known, else the title is searched now and its best release starts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from media import requests
from media.magnets import MagnetError, parse_magnet
from media.models import Status, Title
from torrents import grab, wanted
from torrents.models import TitleSearch
from torrents.results import Result

log = logging.getLogger(__name__)

ASKED = "Asked an admin: the download starts once they approve it."


@dataclass(frozen=True)
class Asked:
    message: str
    title: Title | None = None


def needs_approval(user: Any) -> bool:
    return requests.needs_approval(user)


def _wanted_title(result: Result, kind: str, user: Any) -> Title:
    """The library title a request for ``result`` is about: the one with its info-hash, else a
    new wanted title named as the release says."""
    if result.info_hash and (found := Title.objects.filter(info_hash=result.info_hash).first()):
        return found
    release = result.release
    return Title.objects.create(
        kind=kind,
        title=release.title[:300],
        year=release.year,
        status=Status.PENDING,
        magnet="",
        added_by=user if getattr(user, "is_authenticated", False) else None,
    )


def ask_for_result(result: Result, kind: str, user: Any, title: Title | None = None) -> Asked:
    """Ask for one release the person picked (its magnet kept when the feed gave one), for
    ``title`` when it is in the library already."""
    title = title or _wanted_title(result, kind, user)
    requests.ask(title, user, release_name=result.name, magnet=result.magnet)
    return Asked(ASKED, title)


def ask_for_title(title: Title, user: Any, note: str = "") -> Asked:
    """Ask for a title's best release."""
    requests.ask(title, user, note)
    return Asked(ASKED, title)


def on_request_approved(sender: Any, title: Title, request: Any, **kwargs: Any) -> None:
    """An admin approved: start the release picked, or search now and start the best."""
    title = Title.objects.filter(pk=title.pk).first()
    if title is None or (title.magnet and title.status != Status.ERROR):
        return  # gone, or it has a release already
    if request.magnet:
        try:
            magnet = parse_magnet(request.magnet)
        except MagnetError as exc:
            log.warning(
                "the approved request %s has a magnet Plank cannot use: %s", request.pk, exc
            )
        else:
            grab.attach_magnet(title, magnet)
            TitleSearch.objects.update_or_create(
                title=title,
                defaults={
                    "state": TitleSearch.State.STARTED,
                    "trigger": TitleSearch.Trigger.APPROVED,
                    "outcome": f"Approved; started “{request.release_name or magnet.name}”.",
                },
            )
            return
    wanted.find_releases(title, trigger=TitleSearch.Trigger.APPROVED, get_best=True)
