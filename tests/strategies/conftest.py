from __future__ import annotations

import pytest

from scoring.dsl.compile import clear_cache
from strategies import selectors

# The real broker and worker of the execution-log tests, for the backtest worker tests.
from tests.observability.conftest import fresh_redis, redis_url, start_worker  # noqa: F401


@pytest.fixture(autouse=True)
def _fresh_program_caches():
    """Compiled programs are cached per process; start every test cold."""
    clear_cache()
    selectors._PROGRAMS.clear()
