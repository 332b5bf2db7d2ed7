"""Fixtures of the deployment-file tests (test_compose.py, test_k8s.py): the files as data."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from devstack.manifests import COMPOSE
from devstack.stack import DYNAMIC_CONFIG


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """docker-compose.yml."""
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


@pytest.fixture(scope="session")
def dynamic() -> dict[str, Any]:
    """gateway/dynamic.yml, THE routing file."""
    data: dict[str, Any] = yaml.safe_load(DYNAMIC_CONFIG.read_text())
    return data
