"""Where each person stopped watching: saving, resuming, and "continue watching".

No HTTP here (the views are in `media.player`). Positions are per user, so nothing is
announced on the live layer when one changes.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from media.models import MediaFile, PlaybackPosition, Title

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

log = logging.getLogger(__name__)

MAX_SECONDS = 7 * 24 * 3600.0
"""No video is a week long: a bigger position or duration is a broken client."""
STARTED_AFTER = 30.0
"""Seconds watched before a title counts as started."""
FINISHED_AT = 0.95
"""Share of the duration after which a video counts as finished."""


class BadPosition(ValueError):
    """A position or duration Plank refuses to store. The message is fit to show a person."""


def clean_position(position: float, duration: float | None) -> tuple[float, float | None]:
    """A valid (position, duration) pair, or `BadPosition`.

    Position: a finite number, 0 <= position <= `MAX_SECONDS`. Duration: None (unknown) or a
    finite number, 0 < duration <= `MAX_SECONDS`. A position past the duration (players round)
    is clamped to the duration.
    """
    try:
        position = float(position)
    except (TypeError, ValueError, OverflowError):
        raise BadPosition("The position must be a number of seconds.") from None
    if not math.isfinite(position):
        raise BadPosition("The position must be a finite number of seconds.")
    if position < 0:
        raise BadPosition("The position can't be negative.")
    if position > MAX_SECONDS:
        raise BadPosition("The position is too large to be a place in a video.")
    if duration is not None:
        try:
            duration = float(duration)
        except (TypeError, ValueError, OverflowError):
            raise BadPosition("The duration must be a number of seconds.") from None
        if not math.isfinite(duration) or duration <= 0:
            raise BadPosition("The duration must be a positive, finite number of seconds.")
        if duration > MAX_SECONDS:
            raise BadPosition("The duration is too large to be a video's length.")
        position = min(position, duration)
    return position, duration


def save_position(
    user: AbstractBaseUser,
    title: Title,
    file: MediaFile | None,
    position: float,
    duration: float | None = None,
) -> PlaybackPosition | None:
    """Remember that `user` is at `position` seconds of `file` (a video of `title`).

    Bad values (NaN, infinities, negatives, absurdly large numbers) are ignored: nothing is
    written and None is returned. Only what is given is written: an unknown duration (None)
    leaves a stored duration as it was.
    """
    if not getattr(user, "is_authenticated", False):
        return None
    if file is not None and (file.title_id != title.pk or file.role != MediaFile.Role.VIDEO):
        raise ValueError("the file must be a video of the title")
    try:
        position, duration = clean_position(position, duration)
    except BadPosition as exc:
        log.debug("ignoring a playback position for %s: %s", title.pk, exc)
        return None
    fields = {"position": position}
    if duration is not None:
        fields["duration"] = duration
    for attempt in range(2):
        try:
            with transaction.atomic():
                row, _ = PlaybackPosition.objects.update_or_create(
                    user=user, title=title, file=file, defaults=fields
                )
            return row
        except IntegrityError:  # a concurrent save (timer and beacon) created the row first
            if attempt:
                raise
    return None  # pragma: no cover - the loop returns or raises


def resume_position(user: AbstractBaseUser, title: Title, file: MediaFile | None) -> float:
    """Where the player should start: the saved position, or 0 when never started or finished."""
    if not getattr(user, "is_authenticated", False):
        return 0.0
    row = PlaybackPosition.objects.filter(user=user, title=title, file=file).first()
    if row is None:
        return 0.0
    duration = row.duration or (file.duration if file is not None else None)
    return 0.0 if is_finished(row.position, duration) else row.position


def is_finished(position: float, duration: float | None) -> bool:
    return bool(duration) and position >= FINISHED_AT * float(duration or 0)


def is_in_progress(position: float, duration: float | None) -> bool:
    """Started (more than `STARTED_AFTER` s in) and not finished (under 95% of the duration).

    A position whose duration is unknown counts as in progress once started."""
    return position > STARTED_AFTER and not is_finished(position, duration)


def continue_watching(user: AbstractBaseUser, limit: int = 12) -> list[PlaybackPosition]:
    """What `user` started and didn't finish, most recent first, one entry per title.

    For a show that is the episode watched last. Titles removed from the library are left out.
    Each entry has ``title`` and ``file`` (with ``episode`` and its season) loaded, and
    ``progress_percent`` (0-100) for the progress bar.
    """
    if not getattr(user, "is_authenticated", False) or limit <= 0:
        return []
    rows = (
        PlaybackPosition.objects.filter(
            user=user, position__gt=STARTED_AFTER, title__in=Title.objects.in_library()
        )
        .select_related("title", "file__episode__season")
        .order_by("-updated_at", "-id")
    )
    result: list[PlaybackPosition] = []
    seen: set[int] = set()
    for row in rows[: max(limit * 8, 100)]:
        if row.title_id in seen:
            continue
        seen.add(row.title_id)  # the latest row of a title decides, finished or not
        if is_in_progress(row.position, row.duration):
            row.progress_percent = percent(row.position, row.duration)  # type: ignore[attr-defined]
            result.append(row)
            if len(result) >= limit:
                break
    return result


def percent(position: float, duration: float | None) -> int:
    """How far into the video, 0-100, for progress bars (0 when the duration is unknown)."""
    if not duration:
        return 0
    return max(0, min(100, round(100 * position / duration)))
