"""Shared fixtures of the packaging checks (`make test` runs them with the test venv)."""

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


def load_script(path: Path, name: str) -> ModuleType:
    """Imports the script at `path` as module `name`. Both generators are called generate.py,
    so importing them by file name would hand one test the other's module."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
