"""Fixtures for the gateway tests."""

from __future__ import annotations

import pytest

from tests.gateway.helpers import CollectingSink


@pytest.fixture
def sink() -> CollectingSink:
    return CollectingSink()
