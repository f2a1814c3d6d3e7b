"""Which key prefixes a model's changes make stale: declared once, in the app's ``live.py``.

Each app names its keys and, for each of its models, what a saved or deleted row makes stale::

    # media/live.py
    announce(Title, lambda title: [LIBRARY])
    announce(Note, lambda note: [notes(note.user_id)], user=lambda note: note.user_id)
    quiet(PlaybackPosition, "read when a page loads; not live")

Every ``save()`` and ``delete()`` then emits those prefixes in its transaction, whoever calls it:
a view, a service, the admin, a management command, the shell. Code never emits by hand for a
model save. A save outside ``transaction.atomic`` (autocommit) commits before its announcement
is written, so code that changes rows wraps the change in ``atomic`` (a view, a service
function): then the row and its announcement commit together. Not covered, as with any model
signal: ``QuerySet.update()``, bulk writes and raw
SQL: code that does those calls :func:`plank.live.events.emit` itself and says why. Fixture
loading (``raw`` saves) emits nothing. Within one transaction a prefix is announced once (see
``emit``).

The live app imports every app's ``live`` module when Django starts (:func:`discover`); the
project app's own declarations are in ``plank/live/project.py``, since ``plank.live`` is this
package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models.signals import post_delete, post_save
from django.utils.module_loading import autodiscover_modules

from plank.live.events import emit
from plank.live.keys import Key

KeysFn = Callable[[Any], Iterable[Key]]
UserFn = Callable[[Any], int | None]


@dataclass(frozen=True)
class Declaration:
    """What a change to ``model`` makes stale. A quiet model has no keys and says why."""

    model: type[models.Model]
    keys: KeysFn | None
    user: UserFn | None = None
    why_quiet: str = ""

    def prefixes(self, instance: Any) -> list[Key]:
        return list(self.keys(instance)) if self.keys is not None else []

    def announce(self, sender: type[models.Model], instance: Any, **kwargs: Any) -> None:
        if kwargs.get("raw"):
            return
        prefixes = self.prefixes(instance)
        if prefixes:
            emit(
                *prefixes,
                user_id=self.user(instance) if self.user is not None else None,
                using=kwargs.get("using") or "default",
            )


_declarations: dict[type[models.Model], Declaration] = {}


def _uid(model: type[models.Model]) -> str:
    return f"plank.live.announce:{model._meta.label}"


def announce(model: type[models.Model], keys: KeysFn, *, user: UserFn | None = None) -> None:
    """Emit ``keys(instance)`` whenever an instance of ``model`` is saved or deleted.

    ``user(instance)``, when given, addresses the event to that user's pages only (None: to
    everyone). Declaring a model again replaces the earlier declaration.
    """
    _declare(Declaration(model, keys, user))


def quiet(model: type[models.Model], why: str) -> None:
    """Declare that ``model``'s changes show on no page (so nothing is announced), and why."""
    if not why.strip():
        raise ValueError("say why a quiet model's changes show on no page")
    _declare(Declaration(model, None, why_quiet=why))


def _declare(declaration: Declaration) -> None:
    model = declaration.model
    forget(model)
    _declarations[model] = declaration
    if declaration.keys is not None:
        uid = _uid(model)
        post_save.connect(declaration.announce, sender=model, weak=False, dispatch_uid=uid)
        post_delete.connect(declaration.announce, sender=model, weak=False, dispatch_uid=uid)


def forget(model: type[models.Model]) -> None:
    """Drop ``model``'s declaration (tests that declare a model of their own)."""
    _declarations.pop(model, None)
    post_save.disconnect(sender=model, dispatch_uid=_uid(model))
    post_delete.disconnect(sender=model, dispatch_uid=_uid(model))


def declaration(model: type[models.Model]) -> Declaration | None:
    return _declarations.get(model)


def discover() -> None:
    """Import the ``live`` module of every installed app (their declarations)."""
    autodiscover_modules("live")
