"""Shared pytest configuration: every test runs against a private artifact store, and tests
marked ``@pytest.mark.extra("NAME")`` skip, with the reason, where that optional extra of
pyproject.toml is not installed (a bare ``pip install -e .[test]`` passes)."""

from __future__ import annotations

import functools
import importlib
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


# the optional extras of pyproject.toml and the modules they provide
EXTRAS = {
    "pdo": ("rbf",),
    "demo": ("sklearn",),
    "remote": ("fsspec", "aiohttp"),
    "plot": ("matplotlib",),
    "tools": ("sklearn", "matplotlib"),
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "extra(name): needs the optional extra 'name' (pyproject.toml); else skipped"
    )


@functools.cache
def _missing(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in item.iter_markers("extra"):
            (name,) = marker.args
            if name not in EXTRAS:
                raise pytest.UsageError(
                    f"{item.nodeid}: extra({name!r}) is not one of {sorted(EXTRAS)}"
                )
            missing = [m for m in EXTRAS[name] if _missing(m)]
            if missing:
                reason = f"needs the '{name}' extra (pip install 'e2compile[{name}]'): no module "
                item.add_marker(pytest.mark.skip(reason=reason + ", ".join(missing)))
