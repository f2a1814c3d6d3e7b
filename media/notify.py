"""Notifications about requests (plank/notifications.py): the person who asked hears the answer.

An approval is told by ``media.signals.request_approved`` (sent after the commit); a decline
has no signal of its own (``media.requests.decline`` saves the row), so it is seen as the row's
change from pending to declined (``pre_save`` remembers the state it had), and the notification
commits with the decline. Connected in ``MediaConfig.ready``.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_save

from media.models import Request, Title
from media.signals import request_approved
from plank import notifications

_WAS = "_plank_state_before"


def _said(note: str) -> str:
    note = " ".join(note.split())
    return f": “{note}”" if note else "."


def on_request_approved(sender: Any, title: Title, request: Request, **kwargs: Any) -> None:
    notifications.notify(
        [request.requested_by_id],
        notifications.Kind.REQUEST_ANSWERED,
        f"Your request for “{title.display_title}” was approved{_said(request.decision_note)}",
        title.get_absolute_url(),
    )


def remember_state(sender: Any, instance: Request, raw: bool = False, **kwargs: Any) -> None:
    """Before a request is saved as declined: the state it had (one query, on declines only)."""
    if raw or instance.pk is None or instance.state != Request.State.DECLINED:
        return
    before = Request.objects.filter(pk=instance.pk).values_list("state", flat=True).first()
    setattr(instance, _WAS, before)


def on_request_saved(sender: Any, instance: Request, raw: bool = False, **kwargs: Any) -> None:
    if raw or instance.state != Request.State.DECLINED:
        return
    if getattr(instance, _WAS, None) != Request.State.PENDING:
        return
    setattr(instance, _WAS, Request.State.DECLINED)  # saved again: told once
    notifications.notify(
        [instance.requested_by_id],
        notifications.Kind.REQUEST_ANSWERED,
        f"Your request for “{instance.title.display_title}” was declined"
        f"{_said(instance.decision_note)}",
        "/requests/",
    )


def connect() -> None:
    request_approved.connect(on_request_approved, dispatch_uid="media-notify-approved")
    pre_save.connect(remember_state, sender=Request, dispatch_uid="media-notify-decline-before")
    post_save.connect(on_request_saved, sender=Request, dispatch_uid="media-notify-declined")
