"""Scoring endpoints: award points on a task, and the list of built-in strategies."""

from django.urls import path

from scoring import api, reversal_api

urlpatterns = [
    path(
        "api/v1/games/<str:external_game_id>/tasks/<str:external_task_id>/points",
        api.TaskPointsView.as_view(),
        name="task-points",
    ),
    path(
        "api/v1/games/<str:external_game_id>/points/batch",
        api.GameBatchPointsView.as_view(),
        name="game-points-batch",
    ),
    path(
        "api/v1/awards/<str:award_id>/reverse",
        reversal_api.AwardReverseView.as_view(),
        name="award-reverse",
    ),
    path("api/v1/strategies", api.BuiltinStrategyListView.as_view(), name="strategy-list"),
]
