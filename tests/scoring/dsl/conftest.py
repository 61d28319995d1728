"""Fixtures of the DSL tests; builders live in ``dsl_helpers``."""

from __future__ import annotations

import pytest
from dsl_helpers import RecordingLoader


@pytest.fixture
def loader() -> RecordingLoader:
    return RecordingLoader()
