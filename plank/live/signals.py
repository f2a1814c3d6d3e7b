"""Announce model changes from signals: ``watch(Model, keys=lambda obj: [...])``.

Declare once (in an ``AppConfig.ready``) which key prefixes a saved or deleted instance makes
stale; every ``save()`` and ``delete()`` then emits them in its transaction, whoever calls it: a
view, a service, the admin, a management command, the shell::

    from plank.live.signals import watch

    watch(Title, keys=lambda title: [("media",), ("media", title.pk)])
    watch(PlaybackPosition, keys=lambda p: [("playback", p.title_id)], user=lambda p: p.user_id)

Not covered, as with any model signal: ``QuerySet.update()``, ``bulk_create()``,
``bulk_update()``, raw SQL, and many-to-many changes. Code that does those calls
:func:`plank.live.events.emit` itself. Fixture loading (``raw`` saves) emits nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import models
from django.db.models.signals import post_delete, post_save

from plank.live.events import emit
from plank.live.keys import Key

KeysFn = Callable[[Any], Iterable[Key]]
UserFn = Callable[[Any], int | None]


def _uid(model: type[models.Model]) -> str:
    return f"plank.live.watch:{model._meta.label}"


def watch(
    model: type[models.Model],
    *,
    keys: KeysFn,
    user: UserFn | None = None,
    on: Iterable[str] = ("save", "delete"),
) -> None:
    """Emit ``keys(instance)`` whenever an instance of ``model`` is saved or deleted.

    ``user(instance)``, when given, addresses the event to that user's pages only (None: to
    everyone). ``on`` picks the signals: ``"save"``, ``"delete"``. Watching a model again
    replaces the earlier declaration.
    """
    unwatch(model)
    kinds = set(on)
    unknown = kinds - {"save", "delete"}
    if unknown:
        raise ValueError(f"watch(on=...) takes 'save' and 'delete', not {sorted(unknown)}")

    def announce(sender: type[models.Model], instance: Any, **kwargs: Any) -> None:
        if kwargs.get("raw"):
            return
        prefixes = list(keys(instance))
        if prefixes:
            emit(
                *prefixes,
                user_id=user(instance) if user is not None else None,
                using=kwargs.get("using") or "default",
            )

    if "save" in kinds:
        post_save.connect(announce, sender=model, weak=False, dispatch_uid=_uid(model))
    if "delete" in kinds:
        post_delete.connect(announce, sender=model, weak=False, dispatch_uid=_uid(model))


def unwatch(model: type[models.Model]) -> None:
    """Stop announcing ``model``'s changes."""
    post_save.disconnect(sender=model, dispatch_uid=_uid(model))
    post_delete.disconnect(sender=model, dispatch_uid=_uid(model))
