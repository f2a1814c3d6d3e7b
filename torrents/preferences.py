"""The engine's settings: built from Django settings and the household's preferences, applied live.

``engine_from_preferences()`` is the one place an ``Engine`` is configured from the project (the
engine itself knows no Django). A saved ``Preferences`` row announces
``("preferences",)`` (its declaration, plank/live/project.py); every process's relay turns that into a local invalidation, and the hook
here re-applies DHT, local peer discovery, port mapping and the seeding policy to this process's
engine, if it runs one.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from plank.live.keys import Key, is_prefix
from plank.live.project import PREFERENCES
from plank.models import get_preferences
from torrents import engine as engine_module
from torrents.engine import Engine

log = logging.getLogger(__name__)


def engine_options() -> dict[str, Any]:
    """Engine constructor options from the preferences (the environment when the DB can't say)."""
    try:
        prefs = get_preferences()
        return {
            "dht": prefs.dht,
            "lsd": prefs.lsd,
            "upnp": prefs.port_mapping,
            "seed_ratio": prefs.seed_ratio,
        }
    except DatabaseError:  # no tables yet (before migrate)
        return {
            "dht": settings.PLANK_TORRENT_DHT,
            "lsd": settings.PLANK_TORRENT_LSD,
            "upnp": settings.PLANK_TORRENT_UPNP,
            "seed_ratio": settings.PLANK_TORRENT_SEED_RATIO,
        }


def engine_from_preferences(**overrides: Any) -> Engine:
    """An engine configured from the settings (``PLANK_TORRENT_LISTEN``, ``RESUME_DIR``,
    ``PLANK_TORRENT_RESUME_SECONDS``) and the preferences; ``overrides`` win."""
    options: dict[str, Any] = {
        "listen": settings.PLANK_TORRENT_LISTEN,
        "resume_dir": settings.RESUME_DIR,
        "resume_interval": settings.PLANK_TORRENT_RESUME_SECONDS,
        **engine_options(),
    }
    options.update(overrides)
    return Engine(**options)


def metadata_timeout_setting() -> float:
    try:
        return float(get_preferences().metadata_timeout)
    except DatabaseError:
        return float(settings.PLANK_METADATA_TIMEOUT)


def apply_to_current_engine() -> bool:
    """Re-read the preferences and apply them to this process's engine. True if one runs."""
    engine = engine_module.current()
    if engine is None:
        return False
    options = engine_options()
    engine.apply_settings(dht=options["dht"], lsd=options["lsd"], upnp=options["upnp"])
    engine.seed_ratio = options["seed_ratio"]
    log.info("engine settings applied: %s", options)
    return True


def on_invalidate(key: Key) -> None:
    """A live-cache hook: preferences changed somewhere → apply them here."""
    if is_prefix(key, PREFERENCES) or is_prefix(PREFERENCES, key):
        try:
            apply_to_current_engine()
        except Exception:  # a hook must never break the relay
            log.exception("could not apply the engine settings")
