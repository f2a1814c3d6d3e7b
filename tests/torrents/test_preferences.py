"""The engine takes its run-time settings from the preferences, and applies changes live."""

from __future__ import annotations

import pytest

from plank.live import cache
from plank.models import get_preferences
from torrents import engine as engine_module
from torrents.preferences import apply_to_current_engine, engine_options, metadata_timeout_setting

pytestmark = pytest.mark.django_db


def test_options_follow_the_preferences() -> None:
    prefs = get_preferences()
    prefs.dht, prefs.lsd, prefs.port_mapping, prefs.seed_ratio, prefs.metadata_timeout = False, False, True, 2.0, 30
    prefs.save()
    assert engine_options() == {"dht": False, "lsd": False, "upnp": True, "seed_ratio": 2.0}
    assert metadata_timeout_setting() == 30.0


def test_a_change_reaches_the_running_engine(engine) -> None:
    engine_module.install(engine)
    try:
        prefs = get_preferences()
        prefs.seed_ratio = 1.5
        prefs.save()
        cache.invalidate(("preferences",))  # what the relay does when the settings page emits
        assert engine.seed_ratio == 1.5
        prefs.seed_ratio = None
        prefs.save()
        assert apply_to_current_engine() is True
        assert engine.seed_ratio is None
    finally:
        engine_module.install(None)
