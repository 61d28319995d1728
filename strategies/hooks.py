"""What strategies asks of the apps above it, and how they answer.

An experiment's report reads the runs of each arm from the execution logs, which belong to
observability, an app above this one: observability registers the reader in its
``AppConfig.ready()``. Until then a report has no run figures (``None``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gamification.models import Realm


@dataclass(frozen=True, slots=True)
class ArmRuns:
    """The logged runs of one version over a window, corrected for sampling.

    ``runs`` estimates every run: a failure counts once (all are logged), a sampled ok row
    for ``1 / sample_rate`` runs. ``rows`` is the raw count of log rows.
    """

    rows: int
    runs: float
    error_rate: float | None
    p95_ms: float | None


class ArmRunsReader(Protocol):
    def __call__(
        self, *, realm: Realm, definition_id: uuid.UUID, since: datetime, until: datetime
    ) -> ArmRuns:
        """Return the runs of version ``definition_id`` of ``realm`` in ``[since, until)``."""
        ...


_arm_runs_reader: ArmRunsReader | None = None


def arm_runs_reader_register(reader: ArmRunsReader) -> None:
    global _arm_runs_reader
    _arm_runs_reader = reader


def arm_runs_reader() -> ArmRunsReader | None:
    return _arm_runs_reader
