"""The execution-log figures of an experiment's arms, read for the strategies app's report.

Registered as ``strategies.hooks.ArmRunsReader`` in ``ObservabilityConfig.ready()``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from gamification.models import Realm
from gamification.strategy_ids import custom_strategy_id
from observability.selectors import execution_log_stats
from strategies.hooks import ArmRuns


def experiment_arm_runs(
    *, realm: Realm, definition_id: uuid.UUID, since: datetime, until: datetime
) -> ArmRuns:
    """Return the runs, error rate and p95 duration of one version of ``realm``, weighted for
    sampling as the dashboards weight them (a sampled ok row stands for 1 / its rate)."""
    stats = execution_log_stats(
        strategy_id=custom_strategy_id(definition_id), realm=realm, since=since, until=until
    )
    return ArmRuns(
        rows=stats.rows,
        runs=stats.estimated_runs,
        error_rate=stats.error_rate,
        p95_ms=stats.duration_ms.p95,
    )
