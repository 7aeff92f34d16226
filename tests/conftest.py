"""Shared pytest configuration: every test runs against a private artifact store."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True, scope="session")
def _private_store(tmp_path_factory: pytest.TempPathFactory):
    """Point the default store at a session-private directory, never the user's cache."""
    root = tmp_path_factory.mktemp("e2c-store")
    old = {k: os.environ.get(k) for k in ("E2C_CACHE_DIR", "E2C_CACHE_PATH", "E2C_OFFLINE")}
    os.environ["E2C_CACHE_DIR"] = str(root)
    os.environ.pop("E2C_CACHE_PATH", None)
    os.environ.pop("E2C_OFFLINE", None)
    yield root
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
