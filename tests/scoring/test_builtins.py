"""The built-in strategies on fixed histories, through the real analytics queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scoring.builtins.base import AnalyticsRequest, ScoringEvent
from scoring.builtins.registry import builtin_get
from scoring.context import EventAnalytics, event_history_load
from tests.factories import GameFactory, PlayerFactory, TaskFactory, award_history

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
EVENT = ScoringEvent("g", "t", "u", {})


def at(seconds_ago: float) -> datetime:
    return NOW - timedelta(seconds=seconds_ago)


def score(strategy_id: str, values=None, recent=None):
    strategy = builtin_get(strategy_id)
    analytics = EventAnalytics(values=values or {}, recent_counts=recent or {})
    result = strategy.score(
        event=EVENT, analytics=analytics, variables=strategy.resolve_variables()
    )
    return result.points, result.case_name


BASE = {
    "task.measurements_count": 10,
    "user.measurements_count": 5,
    "user.avg_time": 100.0,
    "all.avg_time": 50.0,
    "user.new_last_window_diff": 100.0,
    "user.last_window_diff": 100.0,
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"task.measurements_count": 1}, (1, "BasicEngagement")),
        ({"user.measurements_count": 2}, (1, "default")),
        ({"user.avg_time": 10.0}, (11, "PerformanceBonus")),
        ({"user.new_last_window_diff": 120.0}, (3, "IndividualOverGlobal")),
        ({"all.avg_time": 10.0, "user.new_last_window_diff": 150.0}, (15, "PeakPerformerBonus")),
        (
            {"all.avg_time": 10.0, "user.new_last_window_diff": 250.0},
            (7, "GlobalAdvantageAdjustment"),
        ),
        ({"user.new_last_window_diff": 50.0}, (8, "IndividualAdjustment")),
        ({}, (1, "default")),
    ],
)
def test_default_strategy_cases(changes, expected):
    assert score("default", {**BASE, **changes}) == expected


@pytest.mark.parametrize(
    ("recent", "expected"),
    [
        (0, (1, "BasicReward")),
        (1, (2, "ConstantEffortReward")),
        (28, (29, "ConstantEffortReward")),
        (57, (58, "ConstantEffortReward")),
        (500, (100, "ConstantEffortReward")),
    ],
)
def test_constant_effort_uses_integer_arithmetic(recent, expected):
    assert score("constant_effort", recent={300: recent}) == expected


def test_reference_id_is_an_alias_of_constant_effort():
    assert builtin_get("constantEffortStrategy") is builtin_get("constant_effort")


def load(task, player, request):
    history = event_history_load(
        task_id=task.pk,
        realm_id=task.game.realm_id,
        external_user_id=player.external_user_id if player else "nobody",
        request=request,
        now=NOW,
    )
    assert history.player_id == (player.pk if player else None)
    return history.analytics


ALL_PATHS = AnalyticsRequest(
    paths=frozenset(BASE) | {"user.recent_measurements_count"}, recent_windows=frozenset({600})
)


@pytest.mark.django_db
def test_analytics_of_an_empty_history_are_the_sentinels():
    task = TaskFactory()
    analytics = load(task, None, ALL_PATHS)

    assert analytics.values == {
        "task.measurements_count": 0,
        "all.avg_time": -1,
        "user.measurements_count": 0,
        "user.avg_time": -1,
        "user.last_window_diff": 0,
        "user.new_last_window_diff": 0,
        "user.recent_measurements_count": 0,
    }
    assert analytics.recent_count(600) == 0


@pytest.mark.django_db
def test_analytics_of_a_fixed_history(django_assert_num_queries):
    task = TaskFactory()
    me = PlayerFactory(realm=task.game.realm)
    other = PlayerFactory(realm=task.game.realm)
    award_history(task=task, player=me, timestamps=[at(1000), at(700), at(100)])
    award_history(task=task, player=other, timestamps=[at(400)])

    with django_assert_num_queries(1):
        analytics = load(task, me, ALL_PATHS)

    assert analytics.values == {
        "task.measurements_count": 4,
        "all.avg_time": 300.0,
        "user.measurements_count": 3,
        "user.avg_time": 450.0,
        "user.last_window_diff": 600.0,
        "user.new_last_window_diff": 100.0,
        "user.recent_measurements_count": 1,
    }
    assert analytics.recent_count(600) == 1


@pytest.mark.django_db
def test_analytics_are_scoped_to_the_game(realm):
    """The same externalTaskId in two games does not share history (spec Q14)."""
    task_a = TaskFactory(game=GameFactory(realm=realm), external_task_id="same")
    task_b = TaskFactory(game=GameFactory(realm=realm), external_task_id="same")
    player = PlayerFactory(realm=realm)
    award_history(task=task_a, player=player, timestamps=[at(50), at(40)])

    analytics = load(task_b, player, ALL_PATHS)

    assert analytics.get("task.measurements_count") == 0
    assert analytics.get("user.measurements_count") == 0


@pytest.mark.django_db
def test_default_strategy_on_a_stored_history_gives_a_performance_bonus(realm):
    """The player is faster on average (60 s) than the task as a whole (40 s between awards)."""
    task = TaskFactory(game=GameFactory(realm=realm))
    me = PlayerFactory(realm=realm)
    slow = PlayerFactory(realm=realm)
    award_history(task=task, player=slow, timestamps=[at(1000), at(600)])
    award_history(task=task, player=me, timestamps=[at(200), at(150), at(100)])
    strategy = builtin_get("default")
    variables = strategy.resolve_variables()

    analytics = load(task, me, strategy.analytics_needed(variables))
    result = strategy.score(event=EVENT, analytics=analytics, variables=variables)

    assert analytics.get("user.avg_time") == 50.0
    assert analytics.get("all.avg_time") == 225.0
    assert (result.points, result.case_name) == (11, "PerformanceBonus")


@pytest.mark.django_db
def test_constant_effort_counts_only_the_recent_window(realm):
    task = TaskFactory(game=GameFactory(realm=realm))
    me = PlayerFactory(realm=realm)
    award_history(task=task, player=me, timestamps=[at(3600), at(250), at(100), at(10)])
    strategy = builtin_get("constant_effort")
    variables = strategy.resolve_variables()

    analytics = load(task, me, strategy.analytics_needed(variables))
    result = strategy.score(event=EVENT, analytics=analytics, variables=variables)

    assert (result.points, result.case_name) == (4, "ConstantEffortReward")
