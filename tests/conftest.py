"""Shared fixtures: the repository's paths, and the environment the real tools need."""

from __future__ import annotations

from pathlib import Path

import pytest

from trigger_nn._deps import setup_environment

REPO = Path(__file__).resolve().parents[1]

setup_environment()


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
