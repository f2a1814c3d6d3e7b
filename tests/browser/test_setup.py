"""The first run in a browser, at desktop and phone sizes: the owner account, then the setup
(TMDB key with Test against a local fake TMDB, indexers later, library folder later, peer
discovery), ending on the checklist; what was chosen is what the database holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browse.fake_tmdb import FAKE_API_KEY, FakeTMDB, start_fake_tmdb
from tests.live.live_server import PASSWORD, Server, base_env, manage, start_server

SIZES = {"desktop": (1366, 900), "phone": (390, 844)}

READ_PREFERENCES = """
import json
from django.contrib.auth import get_user_model
from plank.models import get_preferences
p = get_preferences()
owner = get_user_model().objects.get()
print(json.dumps({"key": p.tmdb_api_key, "dht": p.dht, "lsd": p.lsd, "upnp": p.port_mapping,
                  "owner": owner.username, "superuser": owner.is_superuser}))
"""


@pytest.fixture(scope="module")
def fake_tmdb() -> Iterator[FakeTMDB]:
    fake = start_fake_tmdb()
    yield fake
    fake.stop()


@pytest.fixture
def fresh_plank(tmp_path: Path, fake_tmdb: FakeTMDB) -> Iterator[tuple[Server, dict[str, str]]]:
    """A Plank with no account yet (its own data directory), TMDB pointed at the fake."""
    env = base_env(tmp_path / "data", TMDB_BASE_URL=fake_tmdb.base_url)
    manage(env, "migrate", "--noinput", "-v", "0")
    server = start_server(env)
    yield server, env
    server.stop()


def fits(page) -> None:
    """Nothing of the setup sticks out sideways (a phone would scroll)."""
    width = page.viewport_size["width"]
    box = page.locator(".setup, .setup-card").first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


@pytest.mark.parametrize("size", list(SIZES))
def test_first_run_sets_everything_up(browser, fresh_plank, fake_tmdb, size: str) -> None:
    server, env = fresh_plank
    width, height = SIZES[size]
    context = browser.new_context(
        viewport={"width": width, "height": height},
        is_mobile=size == "phone",
        has_touch=size == "phone",
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # No account yet: every page leads to the first-run page.
    page.goto(f"{server.url}/")
    page.wait_for_url(f"{server.url}/setup/")
    page.fill("#id_username", "anna")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")

    # Step 1: TMDB. Test says no to a wrong key, yes to the right one, and saves neither.
    page.wait_for_url(f"{server.url}/setup/tmdb/")
    assert "step 1 of 4" in page.inner_text(".setup-kicker")
    fits(page)
    page.fill("#id_tmdb_api_key", "f" * 32)
    page.click("button:has-text('Test')")
    page.wait_for_selector("#tmdb-test .error", timeout=10_000)
    page.fill("#id_tmdb_api_key", FAKE_API_KEY)
    page.click("button:has-text('Test')")
    page.wait_for_selector("#tmdb-test .test-ok", timeout=10_000)
    assert FAKE_API_KEY in [q.get("api_key") for _, q in fake_tmdb.calls]
    page.click("button:has-text('Save and continue')")

    # Step 2: indexers, with the way to the indexers page, or later.
    page.wait_for_url(f"{server.url}/setup/indexers/")
    assert page.get_attribute("a:has-text('Add an indexer')", "href") == "/settings/indexers/"
    fits(page)
    page.click("a:has-text('Later')")

    # Step 3: the library folder, later too.
    page.wait_for_url(f"{server.url}/setup/library/")
    assert page.get_attribute("a:has-text('Add a library folder')", "href") == "/settings/library/"
    fits(page)
    page.click("a:has-text('Later')")

    # Step 4: peer discovery: local discovery on, DHT and port mapping off.
    page.wait_for_url(f"{server.url}/setup/peers/")
    fits(page)
    page.uncheck("#id_dht")
    page.check("#id_lsd")
    page.uncheck("#id_port_mapping")
    page.click("button:has-text('Save and finish')")

    # The checklist says where each part stands, and is the Setup tab of Settings.
    page.wait_for_url(f"{server.url}/setup/checklist/")
    checklist = page.inner_text(".setup-checklist")
    assert "a key is saved" in checklist
    assert "DHT off · local discovery on · port mapping off" in checklist
    assert page.get_attribute(".settings-tabs [aria-current=page]", "href") == "/setup/checklist/"
    assert FAKE_API_KEY not in page.content()

    # Revisit a step from the checklist: it knows the saved key and never shows it.
    page.click("[data-item=tmdb] a")
    page.wait_for_url(f"{server.url}/setup/tmdb/")
    assert "A key is saved" in page.inner_text(".setup-card")
    assert page.input_value("#id_tmdb_api_key") == ""

    saved = json.loads(manage(env, "shell", "-c", READ_PREFERENCES).strip().splitlines()[-1])
    assert saved == {
        "key": FAKE_API_KEY,
        "dht": False,
        "lsd": True,
        "upnp": False,
        "owner": "anna",
        "superuser": True,
    }
    assert errors == []
    context.close()
