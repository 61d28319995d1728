"""Static and run-time limits of one strategy."""

from __future__ import annotations

from dataclasses import dataclass

#: Largest integer magnitude a literal, an intermediate result or a points value may have (Q6).
MAX_INT = 2**53


@dataclass(frozen=True, slots=True)
class DslLimits:
    """Caps applied when validating (``max_*``) and running (``runtime_*``, ``timeout_ms``).

    ``runtime_max_nodes``/``runtime_max_depth`` default to the static caps.
    """

    max_nodes: int = 1000
    max_depth: int = 32
    timeout_ms: int = 500
    runtime_max_nodes: int | None = None
    runtime_max_depth: int | None = None
    max_int: int = MAX_INT
    max_size: int = 10_000
    #: Node visits between two wall-clock checks.
    clock_interval: int = 64

    @property
    def run_nodes(self) -> int:
        return self.max_nodes if self.runtime_max_nodes is None else self.runtime_max_nodes

    @property
    def run_depth(self) -> int:
        return self.max_depth if self.runtime_max_depth is None else self.runtime_max_depth
