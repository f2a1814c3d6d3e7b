"""People: inviting someone with a one-time link, setting a role, disabling an account.

An invitation is a random token (256 bits) shown once, as a link, to whoever made it; only its
SHA-256 is stored, so the database never holds a usable link. It works until it expires
(``PLANK_INVITE_DAYS``) and only once: accepting it creates the account with the invitation's
role and marks it used in the same transaction, under a conditional update that only one
acceptance can win. Who may invite or change whom is ``plank.access`` (``grantable_roles``,
``may_manage``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from plank.access import ADMIN, grantable_roles, may_manage
from plank.live.events import close_user_sockets, emit
from plank.live.project import PEOPLE
from plank.models import Invite


class PeopleError(Exception):
    """What was asked is not allowed or not possible; ``str()`` says why, for the page."""


@dataclass(frozen=True)
class NewInvite:
    invite: Invite
    token: str  # shown once, in the link; never stored


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(actor: Any, role: str, note: str = "") -> NewInvite:
    """A new invitation to join with ``role``, made by ``actor``."""
    if role not in grantable_roles(actor):
        raise PeopleError("You can't invite someone with that role.")
    token = secrets.token_urlsafe(32)
    created = Invite.objects.create(
        token_hash=_hash(token),
        role=role,
        note=note.strip()[:200],
        created_by=actor,
        expires_at=timezone.now() + timedelta(days=settings.PLANK_INVITE_DAYS),
    )
    return NewInvite(created, token)


def pending_invites() -> list[Invite]:
    return list(
        Invite.objects.filter(used_at=None, expires_at__gt=timezone.now()).select_related(
            "created_by"
        )
    )


def find(token: str) -> Invite | None:
    """The invitation behind a link's token, if it can still be used."""
    if not token or len(token) > 100:
        return None
    found = Invite.objects.filter(token_hash=_hash(token)).first()
    if found is None or found.used_at is not None or found.expires_at <= timezone.now():
        return None
    return found


def accept(token: str, username: str, password: str) -> Any:
    """Create the invited person's account; raises ``PeopleError`` if the link was used (or
    expired) meanwhile. The caller has validated the name and the password."""
    users = get_user_model().objects
    with transaction.atomic():
        found = find(token)
        if found is None:
            raise PeopleError("This invitation link has expired or was already used.")
        claimed = Invite.objects.filter(
            pk=found.pk, used_at=None, expires_at__gt=timezone.now()
        ).update(used_at=timezone.now())
        if claimed != 1:  # another acceptance won
            raise PeopleError("This invitation link has expired or was already used.")
        user = users.create_user(username, password=password, is_staff=found.role == ADMIN)
        found.refresh_from_db()
        found.used_by = user
        found.save(update_fields=["used_by"])  # announces the People page (plank/live)
    return user


def revoke(actor: Any, invite_id: int) -> None:
    found = Invite.objects.filter(pk=invite_id, used_at=None).first()
    if found is None:
        raise PeopleError("That invitation is gone already.")
    if found.role not in grantable_roles(actor):
        raise PeopleError("You can't withdraw that invitation.")
    found.delete()


def set_role(actor: Any, person: Any, role: str) -> None:
    if not may_manage(actor, person) or role not in grantable_roles(actor):
        raise PeopleError("You can't give that person that role.")
    person.is_staff = role == ADMIN
    person.is_superuser = False
    person.save(update_fields=["is_staff", "is_superuser"])
    _touched()


def set_active(actor: Any, person: Any, active: bool) -> None:
    """Enable or disable an account. A disabled person is logged out everywhere at once: their
    sessions are deleted and their open pages' sockets closed."""
    if not may_manage(actor, person):
        raise PeopleError("You can't disable or enable that person.")
    person.is_active = active
    person.save(update_fields=["is_active"])
    if not active:
        end_sessions(person)
    _touched()


def end_sessions(person: Any) -> int:
    """Delete every session of ``person`` (there is no index by user: a household has few)."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(person.pk):
            session.delete()
            ended += 1
    close_user_sockets(user=person)
    return ended


def _touched() -> None:
    # auth.User is not a Plank model (no declaration covers it): tell open People pages.
    emit(PEOPLE)
