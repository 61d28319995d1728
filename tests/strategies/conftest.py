from __future__ import annotations

import pytest

from scoring.dsl.compile import clear_cache
from strategies import selectors


@pytest.fixture(autouse=True)
def _fresh_program_caches():
    """Compiled programs are cached per process; start every test cold."""
    clear_cache()
    selectors._PROGRAMS.clear()
