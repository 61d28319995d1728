"""Routes of the custom-strategy API (included at the project root, before any catch-all)."""

from django.urls import path

from strategies import api

C = "api/v1/strategies/custom"
S = f"{C}/<str:strategy_id>"

urlpatterns = [
    path(C, api.StrategyListCreateView.as_view(), name="custom-strategy-list"),
    path(f"{C}/import", api.StrategyImportView.as_view(), name="custom-strategy-import"),
    path(S, api.StrategyDetailView.as_view(), name="custom-strategy-detail"),
    path(f"{S}/publish", api.StrategyPublishView.as_view(), name="custom-strategy-publish"),
    path(f"{S}/archive", api.StrategyArchiveView.as_view(), name="custom-strategy-archive"),
    path(f"{S}/rollback", api.StrategyRollbackView.as_view(), name="custom-strategy-rollback"),
    path(f"{S}/versions", api.StrategyVersionsView.as_view(), name="custom-strategy-versions"),
    path(f"{S}/usage", api.StrategyUsageView.as_view(), name="custom-strategy-usage"),
    path(f"{S}/duplicate", api.StrategyDuplicateView.as_view(), name="custom-strategy-duplicate"),
    path(f"{S}/export", api.StrategyExportView.as_view(), name="custom-strategy-export"),
    path(f"{S}/simulate", api.StrategySimulateView.as_view(), name="custom-strategy-simulate"),
    path(f"{S}/backtest", api.StrategyBacktestView.as_view(), name="custom-strategy-backtest"),
    path(
        "api/v1/backtests/<str:backtest_id>",
        api.BacktestDetailView.as_view(),
        name="backtest-detail",
    ),
    path(
        f"{S}/experiment", api.StrategyExperimentView.as_view(), name="custom-strategy-experiment"
    ),
    path(
        f"{S}/experiment/promote",
        api.StrategyExperimentPromoteView.as_view(),
        name="custom-strategy-experiment-promote",
    ),
    path(
        "api/v1/strategies/simulate",
        api.StrategySimulateUnsavedView.as_view(),
        name="strategy-simulate",
    ),
]
