"""``award_points`` called directly: what it stores, answers, refuses and reports."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection

from gamification.models import Award, Player, PlayerTaskStats, TaskStats
from gamification.strategy_ids import custom_strategy_id
from scoring import hooks
from scoring.dsl.compile import compile_program
from scoring.engine import dsl_limits
from scoring.errors import IdempotencyKeyReused, StrategyFailed, TaskClosed
from scoring.services import award_points
from scoring.strategy_types import ResolvedStrategy, StrategyKind
from tests.factories import GameFactory, TaskFactory, strategy_program_ratio

pytestmark = pytest.mark.django_db

CUSTOM_ID = custom_strategy_id(uuid.UUID("0190a8c4-0000-7000-8000-000000000001"))


@pytest.fixture
def task(realm):
    game = GameFactory(realm=realm, external_game_id="g1")
    return TaskFactory(game=game, external_task_id="t1", strategy_id="default")


@pytest.fixture
def custom_task(realm):
    game = GameFactory(realm=realm, external_game_id="g2")
    return TaskFactory(game=game, external_task_id="t2", strategy_id=CUSTOM_ID)


@pytest.fixture
def resolved():
    """Install a resolver of ``CUSTOM_ID`` for the test; yield the (realm, id) it was asked."""
    asked: list[tuple[int, str]] = []

    def resolve(*, realm, strategy_id):
        asked.append((realm.pk, strategy_id))
        return ResolvedStrategy(
            strategy_id=strategy_id,
            version="3",
            kind=StrategyKind.DSL_FULL,
            program=compile_program(strategy_program_ratio(), limits=dsl_limits()),
        )

    previous = hooks.custom_strategy_resolver()
    hooks.custom_strategy_resolver_register(resolve)
    yield asked
    hooks.custom_strategy_resolver_register(previous)


class RecordingObserver:
    def __init__(self) -> None:
        self.observed: list[dict] = []

    def trace_wanted(self) -> bool:
        return False

    def run_observe(self, **kwargs) -> None:
        self.observed.append(kwargs)


@pytest.fixture
def observer():
    recorder = RecordingObserver()
    previous = hooks.run_observer()
    hooks.run_observer_register(recorder)
    yield recorder
    hooks.run_observer_register(previous)


def _award(realm, task, **kwargs):
    return award_points(
        realm=realm,
        api_key=None,
        task=task,
        external_user_id=kwargs.pop("external_user_id", "u1"),
        data=kwargs.pop("data", {}),
        **kwargs,
    )


def test_an_award_is_stored_with_its_stats_and_answered_in_camel_case(realm, task):
    outcome = _award(realm, task, data={"score": 3})

    assert outcome.created is True
    award = Award.objects.get()
    player = Player.objects.get()
    assert (award.player, award.task, award.points, award.case_name) == (
        player,
        task,
        1,
        "BasicEngagement",
    )
    assert award.data == {"score": 3}
    assert award.strategy_version == "0.0.2"
    assert award.response_body is None
    task_stats = TaskStats.objects.get(task=task)
    player_stats = PlayerTaskStats.objects.get(task=task, player=player)
    assert (task_stats.award_count, task_stats.points_total) == (1, 1)
    assert (player_stats.award_count, player_stats.points_total) == (1, 1)
    assert player_stats.first_award_at == player_stats.last_award_at == award.created_at

    answer = outcome.answer
    assert (answer.points, answer.case_name, answer.callback_data) == (1, "BasicEngagement", {})
    assert (answer.award_id, answer.created_at) == (award.pk, award.created_at)
    assert answer.player_created is True
    assert (
        outcome.body
        == (
            '{"points":1,"caseName":"BasicEngagement","callbackData":{},"strategyId":"default",'
            '"strategyVersion":"0.0.2","externalUserId":"u1","playerCreated":true,'
            f'"awardId":"{award.pk}","createdAt":"{answer.created_at.isoformat()[:-6]}Z"}}'
        ).encode()
    )


def test_a_second_award_reuses_the_player_and_adds_to_the_stats(realm, task):
    _award(realm, task)
    second = _award(realm, task)

    assert second.answer.player_created is False
    assert json.loads(second.body)["playerCreated"] is False
    assert Player.objects.count() == 1
    assert TaskStats.objects.get(task=task).award_count == 2
    assert PlayerTaskStats.objects.get(task=task).points_total == 2


def test_an_idempotency_key_replays_the_stored_body_byte_for_byte(realm, task, observer):
    first = _award(realm, task, idempotency_key="k-1")
    second = _award(realm, task, idempotency_key="k-1")

    assert Award.objects.get().response_body.encode() == first.body
    assert (second.body, second.created, second.answer, second.run) == (
        first.body,
        False,
        None,
        None,
    )
    assert len(observer.observed) == 1  # the replay runs nothing
    assert Award.objects.count() == 1
    assert TaskStats.objects.get(task=task).award_count == 1


def test_an_idempotency_key_reused_for_another_player_is_refused(realm, task):
    _award(realm, task, idempotency_key="k-1")

    with pytest.raises(IdempotencyKeyReused):
        _award(realm, task, idempotency_key="k-1", external_user_id="u2")

    assert Award.objects.count() == 1
    assert not Player.objects.filter(external_user_id="u2").exists()


def test_a_dry_run_scores_and_writes_nothing(realm, task, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        outcome = _award(realm, task, dry_run=True, idempotency_key="k-dry")

    assert outcome.created is False
    assert outcome.answer.dry_run is True
    assert json.loads(outcome.body) == {
        "points": 1,
        "caseName": "BasicEngagement",
        "callbackData": {},
        "strategyId": "default",
        "strategyVersion": "0.0.2",
        "externalUserId": "u1",
        "playerCreated": True,
        "awardId": None,
        "createdAt": None,
        "dryRun": True,
    }
    assert outcome.body.endswith(b',"dryRun":true}')
    assert (Award.objects.count(), Player.objects.count(), TaskStats.objects.count()) == (0, 0, 0)


def test_a_closed_task_is_refused_before_anything_runs(realm, task, observer):
    task.status = "closed"
    task.save()

    with pytest.raises(TaskClosed):
        _award(realm, task)

    assert observer.observed == []
    assert (Award.objects.count(), Player.objects.count()) == (0, 0)


def test_a_custom_strategy_is_resolved_through_the_registered_resolver(
    realm, custom_task, resolved
):
    outcome = _award(realm, custom_task, data={"divisor": 8})

    assert resolved == [(realm.pk, CUSTOM_ID)]
    assert (outcome.answer.points, outcome.answer.case_name) == (12.5, "Ratio")
    assert (outcome.answer.strategy_id, outcome.answer.strategy_version) == (CUSTOM_ID, "3")
    award = Award.objects.get()
    assert (award.points, award.strategy_id, award.strategy_version) == (12.5, CUSTOM_ID, "3")


@pytest.mark.usefixtures("resolved")
def test_a_failing_strategy_raises_strategy_failed_and_stores_nothing(realm, custom_task, observer):
    with pytest.raises(StrategyFailed) as failure:
        _award(realm, custom_task, data={"divisor": 0}, idempotency_key="k-fail")

    assert failure.value.code == "DSL_ARITH_DIV_BY_ZERO"
    assert failure.value.as_body()["pointer"] == "/rules/0/then/0/value"
    assert len(observer.observed) == 1  # failures are observed too
    assert observer.observed[0]["run"].error is failure.value.error
    assert (Award.objects.count(), Player.objects.count(), TaskStats.objects.count()) == (0, 0, 0)


def test_the_run_observer_is_called_once_with_the_run(realm, task, api_key_pair, observer):
    api_key = api_key_pair[0]
    outcome = award_points(
        realm=realm,
        api_key=api_key,
        task=task,
        external_user_id="u1",
        data={},
        idempotency_key="k-obs",
    )

    assert len(observer.observed) == 1
    seen = observer.observed[0]
    assert seen["run"] is outcome.run
    assert seen["run"].ok
    assert (seen["traced"], seen["realm"], seen["api_key"]) == (False, realm, api_key)
    assert seen["correlation_id"] == "k-obs"
    assert seen["event"].external_task_id == "t1"
    assert Award.objects.get().api_key_used == api_key


@pytest.mark.django_db(transaction=True)
def test_an_award_costs_the_history_read_the_player_insert_and_one_write(
    realm, task, django_assert_max_num_queries
):
    """Outside a test transaction on PostgreSQL the award and its stats are one statement."""
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement award write is PostgreSQL's")
    _award(realm, task)

    with django_assert_max_num_queries(2):
        _award(realm, task)
    with django_assert_max_num_queries(3):
        _award(realm, task, idempotency_key="k-count")
