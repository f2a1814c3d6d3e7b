"""The settings area's tabs: the general page and each app's registered page."""

from __future__ import annotations

import pytest
from django.test import Client

from plank import sections

pytestmark = pytest.mark.django_db


def test_registered_sections_are_tabs_in_order(client_owner: Client) -> None:
    sections.register("Admin site", "admin:index", order=50)
    try:
        page = client_owner.get("/settings/").content.decode()
    finally:
        sections._sections.pop("admin:index")
    general = page.index('href="/settings/" aria-current="page">General')
    admin = page.index('href="/admin/">Admin site')
    assert general < admin
