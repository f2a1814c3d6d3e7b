"""The engine takes its run-time settings from the preferences, and applies changes live."""

from __future__ import annotations

import pytest

from plank.live import cache
from plank.models import get_preferences
from torrents import engine as engine_module
from torrents.engine import Engine
from torrents.preferences import (
    apply_to_current_engine,
    engine_from_preferences,
    engine_options,
    metadata_timeout_setting,
)

pytestmark = pytest.mark.django_db


def test_options_follow_the_preferences() -> None:
    prefs = get_preferences()
    prefs.dht, prefs.lsd, prefs.port_mapping, prefs.seed_ratio, prefs.metadata_timeout = (
        False,
        False,
        True,
        2.0,
        30,
    )
    prefs.save()
    assert engine_options() == {"dht": False, "lsd": False, "upnp": True, "seed_ratio": 2.0}
    assert metadata_timeout_setting() == 30.0


def test_the_engine_is_built_from_the_settings_and_the_preferences(settings, tmp_path) -> None:
    settings.PLANK_TORRENT_LISTEN = "127.0.0.1:6999"
    settings.RESUME_DIR = tmp_path / "resume"
    settings.PLANK_TORRENT_RESUME_SECONDS = 12.0
    prefs = get_preferences()
    prefs.dht, prefs.lsd, prefs.port_mapping, prefs.seed_ratio = False, True, False, 1.25
    prefs.save()

    engine = engine_from_preferences()
    assert isinstance(engine, Engine) and not engine.running
    assert engine.listen == "127.0.0.1:6999"
    assert engine.resume_dir == tmp_path / "resume"
    assert engine._alerts.resume_interval == 12.0
    assert (engine.dht, engine.lsd, engine.upnp, engine.seed_ratio) == (False, True, False, 1.25)

    overridden = engine_from_preferences(listen="127.0.0.1:0", seed_ratio=None, dht=True)
    assert (overridden.listen, overridden.seed_ratio, overridden.dht) == ("127.0.0.1:0", None, True)


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
