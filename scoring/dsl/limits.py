"""Static and run-time limits of one strategy."""

from __future__ import annotations

from dataclasses import dataclass

#: Largest integer magnitude a literal, an intermediate result or a points value may have (Q6).
MAX_INT = 2**53


@dataclass(frozen=True, slots=True)
class DslLimits:
    """Caps applied when validating (``max_*``) and running (``runtime_*``, ``timeout_ms``).

    ``runtime_max_nodes``/``runtime_max_depth`` default to the static caps. ``max_size``
    also bounds the lists and objects a comparison walks (see ``ops.items_within``).
    ``trace_bytes`` bounds a traced run's trace as JSON; ``None`` keeps every entry whole
    (the conformance runner, which compares traces with the reference engine's).
    ``callback_bytes`` bounds the callback data a run returns; ``None`` does not.
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
    trace_bytes: int | None = 65536
    #: JSON bytes the callback data of a run may take; a run over it fails with
    #: ``DSL_VALUE_TOO_LARGE`` (it is stored with the award and sent back in its answer).
    callback_bytes: int | None = 65536

    @property
    def run_nodes(self) -> int:
        return self.max_nodes if self.runtime_max_nodes is None else self.runtime_max_nodes

    @property
    def run_depth(self) -> int:
        return self.max_depth if self.runtime_max_depth is None else self.runtime_max_depth

    @property
    def trace_value_bytes(self) -> int | None:
        """Bytes one trace entry's value may take: a sixteenth of the trace, 256 at least."""
        if self.trace_bytes is None:
            return None
        return max(256, self.trace_bytes // 16)
