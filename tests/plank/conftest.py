"""Fixtures for tests/plank: the fresh PostgreSQL + Redis environment of the live tests."""

from tests.live.test_cross_process import scaled_env  # noqa: F401 (a fixture, used by name)
