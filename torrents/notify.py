"""Notifications about downloads (plank/notifications.py): when a title's download finishes,
or will not finish (refused, no peers, failed), the people concerned hear of it: the person
who added the title and those whose request for it was approved, nobody else. Connected in
``TorrentsConfig.ready``; both signals are sent after the commit.
"""

from __future__ import annotations

from typing import Any

from media.models import Request, Title
from plank import notifications
from torrents.signals import NO_PEERS, REFUSED, download_completed, download_failed


def concerned(title: Title) -> list[int]:
    """Who hears about ``title``'s download: who added it, and who asked for it (approved)."""
    askers = Request.objects.filter(title_id=title.pk, state=Request.State.APPROVED)
    ids = [title.added_by_id, *askers.values_list("requested_by_id", flat=True)]
    return [pk for pk in dict.fromkeys(ids) if pk is not None]


def on_download_completed(sender: Any, title: Title, **kwargs: Any) -> None:
    notifications.notify(
        concerned(title),
        notifications.Kind.FINISHED,
        f"“{title.display_title}” has finished downloading.",
        title.get_absolute_url(),
    )


def on_download_failed(
    sender: Any, title: Title, reason: str = "", cause: str = "", **kwargs: Any
) -> None:
    what = {
        REFUSED: "was refused",
        NO_PEERS: "could not start",
    }.get(cause, "failed")
    reason = " ".join((reason or "").split())
    notifications.notify(
        concerned(title),
        notifications.Kind.REFUSED,
        f"“{title.display_title}” {what}" + (f": {reason}" if reason else "."),
        title.get_absolute_url(),
    )


def connect() -> None:
    download_completed.connect(on_download_completed, dispatch_uid="torrents-notify-completed")
    download_failed.connect(on_download_failed, dispatch_uid="torrents-notify-failed")
