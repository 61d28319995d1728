"""Execution-log endpoints; included before the strategies app so that ``compare`` is not
taken for a strategy id."""

import uuid

from django.urls import path, register_converter

from gamification.strategy_ids import CUSTOM_ID_PATH_REGEX, strategy_uuid
from observability import api


class StrategyUuidConverter:
    """A strategy version id, bare or as ``custom:<uuid>``."""

    regex = CUSTOM_ID_PATH_REGEX

    def to_python(self, value: str) -> uuid.UUID:
        parsed = strategy_uuid(value)
        if parsed is None:  # the regex admits only UUIDs
            raise ValueError(value)
        return parsed

    def to_url(self, value: uuid.UUID | str) -> str:
        return str(value)


register_converter(StrategyUuidConverter, "strategy")

S = "api/v1/strategies/custom"

urlpatterns = [
    path(
        "api/v1/executions/<str:log_id>/replay",
        api.ExecutionReplayView.as_view(),
        name="execution-replay",
    ),
    path(f"{S}/compare", api.StrategyCompareView.as_view(), name="strategy-compare"),
    path(
        f"{S}/<strategy:strategy_uuid>/executions",
        api.ExecutionListView.as_view(),
        name="strategy-executions",
    ),
    path(
        f"{S}/<strategy:strategy_uuid>/executions/<uuid:log_id>",
        api.ExecutionDetailView.as_view(),
        name="strategy-execution-detail",
    ),
    path(
        f"{S}/<strategy:strategy_uuid>/metrics",
        api.StrategyMetricsView.as_view(),
        name="strategy-metrics",
    ),
]
