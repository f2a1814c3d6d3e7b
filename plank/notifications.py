"""Notifications: what happened to a person's titles, told to that person only.

The apps that know what happened call :func:`notify` (``plank`` knows no app: the receivers of
the download and request signals live in ``torrents/notify.py`` and ``media/notify.py``). Each
notification is a row (the list in the user menu, ``/notifications/``) and, once it commits, a
``set`` frame under :data:`plank.live.project.NOTIFY` pushed to that person's sockets only
(``push(..., user_id=...)``): ``static/plank/toasts.js`` shows it as a toast on every page they
have open. The frame carries the person's unread notifications of the last
:data:`TOAST_WINDOW` seconds (at most :data:`TOAST_MAX`), so two that arrive within one tick of
the relay (which keeps only the newest value per key) both show; the page shows each id once.
The row's save is announced to that person too (``plank/live/project.py``), so their menu's
count and list refetch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.timesince import timesince

from plank.live.events import emit, push
from plank.live.project import NOTIFY
from plank.models import Notification

log = logging.getLogger(__name__)

MENU_SIZE = 10  # the newest shown in the user menu
PAGE_SIZE = 50  # the newest shown on /notifications/
TOAST_WINDOW = 30.0  # seconds: notifications this recent ride along in each frame
TOAST_MAX = 5
TEXT_MAX = 500

Kind = Notification.Kind


def _user_ids(users: Iterable[Any]) -> list[int]:
    ids: list[int] = []
    for user in users:
        if user is None:
            continue
        pk = getattr(user, "pk", user)
        if pk is not None and int(pk) not in ids:
            ids.append(int(pk))
    return ids


def notify(users: Iterable[Any], kind: str, text: str, url: str = "") -> list[Notification]:
    """Tell each of ``users`` (users or ids; None and repeats skipped) ``text``, linking to
    ``url`` (a path of this Plank). The rows commit with the caller's transaction; the toasts
    are pushed after the commit (at once under autocommit)."""
    if kind not in Kind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    if url and not url.startswith("/"):
        raise ValueError("a notification links to a page of this Plank (a path)")
    text = " ".join(str(text).split())[:TEXT_MAX]
    created = []
    with transaction.atomic():
        for user_id in _user_ids(users):
            created.append(
                Notification.objects.create(user_id=user_id, kind=kind, text=text, url=url[:500])
            )
    for user_id in {n.user_id for n in created}:
        transaction.on_commit(lambda uid=user_id: push_toasts(uid))
    return created


def toast(notification: Notification) -> dict[str, Any]:
    """What a toast shows of a notification (the page escapes it: it sets text, never HTML)."""
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "text": notification.text,
        "url": notification.url,
    }


def push_toasts(user_id: int) -> None:
    """Push ``user_id``'s recent unread notifications to their open pages (never raises: a
    toast that does not show is not worth failing a download's completion for)."""
    try:
        since = timezone.now() - timedelta(seconds=TOAST_WINDOW)
        recent = Notification.objects.filter(
            user_id=user_id, read_at__isnull=True, created_at__gte=since
        ).order_by("-created_at", "-id")[:TOAST_MAX]
        items = [toast(n) for n in reversed(list(recent))]
        if items:
            data = {"toasts": json.dumps(items), "unread": unread_count(user_id)}
            push(NOTIFY, data, user_id=user_id)
    except Exception:
        log.exception("could not push the notifications of user %s", user_id)


def for_user(user: Any, limit: int = MENU_SIZE) -> list[Notification]:
    """The newest ``limit`` of ``user``'s notifications, each with ``ago`` ("just now",
    "5 minutes ago") for the list."""
    rows = list(Notification.objects.filter(user_id=user.pk).order_by("-created_at", "-id")[:limit])
    now = timezone.now()
    for row in rows:
        recent = now - row.created_at < timedelta(minutes=1)
        row.ago = "just now" if recent else f"{timesince(row.created_at, now, depth=1)} ago"  # type: ignore[attr-defined]
    return rows


def unread_count(user: Any) -> int:
    user_id = getattr(user, "pk", user)
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


def mark_all_read(user: Any) -> int:
    """Mark every unread notification of ``user`` read; how many were."""
    with transaction.atomic():
        count = Notification.objects.filter(user_id=user.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )
        if count:
            # QuerySet.update sends no save signals, so the declaration does not announce it:
            # the person's menus (on each of their pages) refetch their count and list.
            emit(NOTIFY, user_id=user.pk)
    return count
