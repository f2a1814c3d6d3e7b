"""Requests: a member's Get that waits for an admin (what Overseerr is loved for).

When the household's setting says so (``Preferences.members_need_approval``, on the People
settings page), a member's Get does not download: it asks (:func:`ask`), and the request waits.
Admins see the pending requests live on ``/requests/`` and approve or decline each with a note;
approving sends ``media.signals.request_approved`` after the commit, and whoever finds releases
(the torrents app) starts the search and the download. The person who asked sees the outcome,
live, on the same page. Admins and the owner never need approval.

The interface the torrents app codes against: ``needs_approval(user)``, ``ask(title, user,
note)``, and the signal.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from media.models import Request, Title
from media.signals import request_approved
from plank.access import MEMBER, is_admin, role_of
from plank.models import get_preferences

log = logging.getLogger(__name__)

NOTE_LENGTH = 1000


class RequestError(Exception):
    """The request cannot do that (already decided, not yours ...); ``str()`` says why."""


def needs_approval(user: Any) -> bool:
    """Whether ``user``'s Get must be approved first: a member, while the setting is on."""
    return role_of(user) == MEMBER and get_preferences().members_need_approval


def ask(
    title: Title, user: Any, note: str = "", *, release_name: str = "", magnet: str = ""
) -> Request:
    """``user`` asks for ``title`` (optionally for the release they picked). Asking again
    while a request of theirs for it waits returns that one (its note updated)."""
    note = note.strip()[:NOTE_LENGTH]
    fields = {"note": note, "release_name": release_name[:500], "magnet": magnet}
    try:
        with transaction.atomic():
            request, created = Request.objects.get_or_create(
                title=title, requested_by=user, state=Request.State.PENDING, defaults=fields
            )
            if not created and (note or release_name or magnet):
                for name, value in fields.items():
                    if value:
                        setattr(request, name, value)
                request.save()
    except IntegrityError:  # a concurrent ask of the same person won
        request = Request.objects.get(title=title, requested_by=user, state=Request.State.PENDING)
    return request


def visible_to(user: Any) -> QuerySet[Request]:
    """The requests ``user`` may see: every one for admins, their own for members."""
    requests = Request.objects.select_related("title", "requested_by", "decided_by")
    return requests if is_admin(user) else requests.filter(requested_by=user)


def pending_count(user: Any) -> int:
    return visible_to(user).filter(state=Request.State.PENDING).count()


def approve(request: Request, by: Any, note: str = "") -> Request:
    """Approve a pending request; ``request_approved`` goes out once it commits."""
    decided = _decide(request, by, Request.State.APPROVED, note)
    transaction.on_commit(lambda: _tell_approved(decided))
    return decided


def decline(request: Request, by: Any, note: str = "") -> Request:
    return _decide(request, by, Request.State.DECLINED, note)


def withdraw(request: Request, by: Any) -> Request:
    """The person who asked takes a pending request back."""
    if request.requested_by_id != by.pk:
        raise RequestError("Only the person who asked can withdraw a request.")
    return _decide(request, by, Request.State.WITHDRAWN, "", admin=False)


def _decide(request: Request, by: Any, state: str, note: str, *, admin: bool = True) -> Request:
    if admin and not is_admin(by):
        raise RequestError("Only an admin can approve or decline a request.")
    with transaction.atomic():
        # Whoever decides first wins: the row is locked (PostgreSQL; SQLite's transactions
        # here take the write lock when they begin) and changes only from pending.
        decided = (
            Request.objects.select_for_update(of=("self",))
            .select_related("title")
            .get(pk=request.pk)
        )
        if decided.state != Request.State.PENDING:
            raise RequestError("This request was already decided.")
        decided.state = state
        decided.decided_by = by
        decided.decided_at = timezone.now()
        decided.decision_note = note.strip()[:NOTE_LENGTH]
        decided.save()  # announced by the declaration (media.live)
    return decided


def _tell_approved(request: Request) -> None:
    for receiver, error in request_approved.send_robust(
        sender=Request, title=request.title, request=request
    ):
        if error is not None:
            log.error(
                "request_approved receiver %r failed for %s", receiver, request, exc_info=error
            )
