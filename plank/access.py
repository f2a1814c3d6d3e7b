"""Who may do what: the three roles, and small helpers views use to check them.

- **owner**: everything (the first account; a Django superuser);
- **admin**: settings, indexers, people, any title (Django staff);
- **member**: browse, search, add, request, watch; changes only what they added.

Views ask ``is_admin(user)`` / ``may_change(user, obj)``, or wrap themselves in
``@admin_required``; a refusal is a 403 page that says why (or, over htmx, the reason as text).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render

OWNER, ADMIN, MEMBER = "owner", "admin", "member"
ROLES = (OWNER, ADMIN, MEMBER)
ADMIN_ONLY = "Only an admin can do that."


def role_of(user: Any) -> str | None:
    """The user's role, or None for an anonymous or disabled user."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return OWNER
    if user.is_staff:
        return ADMIN
    return MEMBER


def is_admin(user: Any) -> bool:
    return role_of(user) in (OWNER, ADMIN)


def is_owner(user: Any) -> bool:
    return role_of(user) == OWNER


def may_change(user: Any, obj: Any) -> bool:
    """Whether ``user`` may change ``obj`` (anything with ``added_by_id``): admins always,
    members only what they added (or what nobody added, e.g. a command's)."""
    if is_admin(user):
        return True
    if role_of(user) is None:
        return False
    added_by = getattr(obj, "added_by_id", None)
    return added_by is None or added_by == user.pk


def forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    """A 403 that says why: plain text over htmx, the styled 403 page otherwise."""
    if getattr(request, "htmx", False):
        return HttpResponseForbidden(reason, content_type="text/plain; charset=utf-8")
    return render(request, "403.html", {"reason": reason}, status=403)


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Only admins (and the owner) may call ``view``; others get a 403 that says so."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_admin(request.user):
            return forbidden(request, ADMIN_ONLY)
        return view(request, *args, **kwargs)

    return wrapper


def owner_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Only the owner may call ``view``."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_owner(request.user):
            return forbidden(request, "Only the owner can do that.")
        return view(request, *args, **kwargs)

    return wrapper


# --- people: who may manage whom (plank/people.py) --------------------------------------------


def grantable_roles(actor: Any) -> tuple[str, ...]:
    """The roles ``actor`` may give (by invitation or by a change): the owner makes admins and
    members, an admin members; nobody makes a second owner."""
    if is_owner(actor):
        return (ADMIN, MEMBER)
    if is_admin(actor):
        return (MEMBER,)
    return ()


def may_manage(actor: Any, person: Any) -> bool:
    """Whether ``actor`` may change ``person``'s role or disable them: the owner anyone but
    themselves, an admin the members (disabled ones too), a member nobody."""
    if actor is None or person is None or actor.pk == person.pk:
        return False
    if is_owner(actor):
        return not person.is_superuser
    if is_admin(actor):
        return not person.is_superuser and not person.is_staff
    return False
