"""Browser tests: Debian's Chromium driven by Playwright, against a real `serve` process."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.live.live_server import PASSWORD, Server, base_env, create_user, manage, start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def plank_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = base_env(tmp_path_factory.mktemp("plank-browser"))
    manage(env, "migrate", "--noinput", "-v", "0")
    create_user(env, "anna")
    create_user(env, "ben")
    return env


@pytest.fixture(scope="module")
def server(plank_env: dict[str, str]) -> Iterator[Server]:
    server = start_server(plank_env)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it (.ci/run): its absence there is a failure
        pytest.skip(message)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def login(browser, server: Server, username: str):
    """A new browser context (its own cookies) logged in as ``username``; returns a page."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    return page
