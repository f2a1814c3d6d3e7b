"""Fixtures shared by the media tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def data_dir(settings, tmp_path: Path) -> Path:
    """``tmp_path`` as Plank's data directory (library and downloads below it, not created)."""
    settings.DATA_DIR = tmp_path
    settings.LIBRARY_DIR = tmp_path / "library"
    settings.DOWNLOADS_DIR = tmp_path / "downloads"
    return tmp_path
