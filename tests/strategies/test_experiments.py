"""Experiments through the API: start, score by arm, stop, promote, report, refuse."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import RestrictedError
from django.utils import timezone
from rest_framework.test import APIClient

from gamification.models import Award, Realm, Task
from gamification.services import api_key_revoke
from observability.models import StrategyExecutionLog
from strategies import services
from strategies.assignment import assignment_point
from strategies.models import (
    ExperimentStatus,
    StrategyDefinition,
    StrategyExperiment,
    StrategyStatus,
)
from tests.factories import GameFactory, RealmFactory, TaskFactory, strategy_program_full

BASE = "/api/v1/strategies/custom"
URL = "/api/v1/games/g1/tasks/t1/points"


def _score_program(plus: float = 0) -> dict:
    """A DSL_FULL program awarding ``data.score + plus``."""
    value = {"type": "field", "path": "data.score"}
    if plus:
        value = {
            "type": "arith",
            "op": "+",
            "left": value,
            "right": {"type": "literal", "value": plus},
        }
    return {
        "type": "program",
        "rules": [],
        "default": {"type": "assign_points", "value": value, "case_name": "Score"},
    }


def _family(realm: Realm, *, control: dict, candidate: dict, name: str = "speed"):
    """A published v1 running ``control`` and a draft v2 running ``candidate``."""
    v1 = services.strategy_create(realm=realm, name=name, type="DSL_FULL", ast_json=control)
    services.strategy_publish(strategy=v1)
    v2 = services.strategy_edit(strategy=v1, changes={"ast_json": candidate}).strategy
    v1.refresh_from_db()
    return v1, v2


@pytest.fixture
def family(realm):
    """v1 published (10 points for a long session), v2 a draft (20 points)."""
    return _family(
        realm, control=strategy_program_full(points=10), candidate=strategy_program_full(points=20)
    )


@pytest.fixture
def task(realm, family) -> Task:
    return TaskFactory(
        game=GameFactory(realm=realm, external_game_id="g1"),
        external_task_id="t1",
        strategy_id=family[0].strategy_id,
    )


def _players(realm: Realm, *, share: float, arm: str, count: int, family: str = "speed"):
    """The first ``count`` players ``player-N`` that the hash puts in ``arm``."""
    found, n = [], 0
    while len(found) < count:
        user = f"player-{n}"
        point = assignment_point(realm_id=realm.pk, family=family, external_user_id=user)
        if (point < share) == (arm == "candidate"):
            found.append(user)
        n += 1
    return found


def _start(api: APIClient, strategy, candidate, *, share=0.3, tag="speed-v2", **extra):
    body = {"candidateId": str(candidate.pk), "share": share, "tag": tag, **extra}
    return api.post(f"{BASE}/{strategy.pk}/experiment", body, format="json")


def _started(api, strategy, candidate, **kwargs) -> dict:
    response = _start(api, strategy, candidate, **kwargs)
    assert response.status_code == 201, response.json()
    return response.json()


def _award(api: APIClient, user: str, **data):
    return api.post(URL, {"externalUserId": user, "data": data or {"minutes": 45}}, format="json")


# -- starting ---------------------------------------------------------------------------------
def test_starting_answers_the_state_and_tags_both_versions(api, family, api_key_pair):
    v1, v2 = family

    body = _started(api, v1, v2, share=0.25, tag="speed-v2")

    assert body["status"] == "running"
    assert (body["share"], body["tag"], body["name"]) == (0.25, "speed-v2", "speed")
    assert body["control"] == {
        "id": str(v1.pk),
        "strategyId": v1.strategy_id,
        "version": 1,
        "status": "PUBLISHED",
    }
    assert (body["candidate"]["id"], body["candidate"]["version"]) == (str(v2.pk), 2)
    key = api_key_pair[0]
    assert body["startedBy"] == {"type": "apiKey", "name": key.name, "prefix": key.prefix}
    assert (body["stoppedAt"], body["stoppedBy"]) == (None, None)
    assert set(
        StrategyDefinition.objects.filter(pk__in=[v1.pk, v2.pk]).values_list(
            "experiment_tag", flat=True
        )
    ) == {"speed-v2"}
    experiment = StrategyExperiment.objects.get()
    assert (experiment.started_by_key, experiment.control, experiment.candidate) == (key, v1, v2)


def test_any_version_of_the_family_addresses_its_experiment(api, family):
    v1, v2 = family
    _started(api, v2, v2)  # the candidate's own id starts it

    for version in (v1, v2):
        body = api.get(f"{BASE}/{version.strategy_id}/experiment").json()
        assert (body["status"], body["candidate"]["id"]) == ("running", str(v2.pk))


# -- scoring by arm ---------------------------------------------------------------------------
def test_awards_record_the_players_arm_and_the_version_that_scored(api, realm, family, task):
    v1, v2 = family
    _started(api, v1, v2, share=0.3)
    control = _players(realm, share=0.3, arm="control", count=3)
    candidate = _players(realm, share=0.3, arm="candidate", count=3)

    answers = {user: _award(api, user).json() for user in control + candidate}

    for user in control:
        assert answers[user]["experimentArm"] == "control"
        assert (answers[user]["points"], answers[user]["strategyVersion"]) == (10, "1")
    for user in candidate:
        assert answers[user]["experimentArm"] == "candidate"
        assert (answers[user]["points"], answers[user]["strategyVersion"]) == (20, "2")
    # The bound id stays the task's; the version says which program scored.
    assert {answer["strategyId"] for answer in answers.values()} == {task.strategy_id}
    stored = {
        award.player.external_user_id: (award.experiment_arm, award.strategy_version, award.points)
        for award in Award.objects.select_related("player")
    }
    assert stored == {
        **{user: ("control", "1", 10) for user in control},
        **{user: ("candidate", "2", 20) for user in candidate},
    }


@pytest.mark.usefixtures("task")
def test_a_player_keeps_its_arm_from_one_award_to_the_next(api, family):
    v1, v2 = family
    _started(api, v1, v2, share=0.5)
    players = [f"p{n}" for n in range(20)]

    first = [_award(api, user).json()["experimentArm"] for user in players]
    again = [_award(api, user).json()["experimentArm"] for user in players]

    assert first == again
    assert {"control", "candidate"} == set(first)


@pytest.mark.usefixtures("task")
def test_without_an_experiment_the_answer_has_no_arm(api):
    body = _award(api, "alice").json()

    assert "experimentArm" not in body
    assert body["strategyVersion"] == "1"
    assert Award.objects.get().experiment_arm is None


@pytest.mark.usefixtures("task")
def test_a_dry_run_scores_with_the_players_arm_and_stores_nothing(api, realm, family):
    v1, v2 = family
    _started(api, v1, v2, share=0.3)
    (user,) = _players(realm, share=0.3, arm="candidate", count=1)

    body = api.post(
        URL, {"externalUserId": user, "data": {"minutes": 45}, "dryRun": True}, format="json"
    ).json()

    assert (body["experimentArm"], body["points"], body["dryRun"]) == ("candidate", 20, True)
    assert not Award.objects.exists()


@pytest.mark.usefixtures("task")
def test_an_idempotent_retry_replays_the_arm_it_was_scored_with(api, realm, family):
    v1, v2 = family
    _started(api, v1, v2, share=0.3)
    (user,) = _players(realm, share=0.3, arm="candidate", count=1)
    headers = {"HTTP_IDEMPOTENCY_KEY": "k-1"}
    first = api.post(
        URL, {"externalUserId": user, "data": {"minutes": 45}}, format="json", **headers
    )
    api.delete(f"{BASE}/{v1.pk}/experiment")

    replay = api.post(
        URL, {"externalUserId": user, "data": {"minutes": 45}}, format="json", **headers
    )

    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.content == first.content
    assert replay.json()["experimentArm"] == "candidate"


# -- stopping, promoting, archiving -----------------------------------------------------------
@pytest.mark.usefixtures("task")
def test_stopping_puts_everyone_back_on_the_control(api, realm, family, api_key_pair):
    v1, v2 = family
    _started(api, v1, v2, share=0.3)
    (user,) = _players(realm, share=0.3, arm="candidate", count=1)
    assert _award(api, user).json()["experimentArm"] == "candidate"

    response = api.delete(f"{BASE}/{v1.pk}/experiment")

    assert response.status_code == 200, response.json()
    body = response.json()
    key = api_key_pair[0]
    assert (body["status"], body["stoppedBy"]["prefix"]) == ("stopped", key.prefix)
    assert body["stoppedAt"] is not None
    after = _award(api, user).json()
    assert "experimentArm" not in after
    assert (after["points"], after["strategyVersion"]) == (10, "1")
    # The candidate is a draft again, outside any experiment: it no longer runs.
    v2.refresh_from_db()
    assert v2.status == StrategyStatus.DRAFT
    again = api.delete(f"{BASE}/{v1.pk}/experiment")
    assert (again.status_code, again.json()["code"]) == (409, "EXPERIMENT_NOT_RUNNING")


def test_promoting_publishes_the_candidate_and_its_tasks_score_with_it(
    api, realm, family, task, api_key_pair
):
    v1, v2 = family
    _started(api, v1, v2, share=0.3)
    (user,) = _players(realm, share=0.3, arm="control", count=1)
    assert _award(api, user).json()["points"] == 10

    response = api.post(f"{BASE}/{v1.pk}/experiment/promote")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["switchedTasks"], body["switchedGames"]) == ("promoted", 1, 0)
    v1.refresh_from_db()
    v2.refresh_from_db()
    key = api_key_pair[0]
    assert (v2.status, v2.published_by_key) == (StrategyStatus.PUBLISHED, key)
    assert (v1.status, v1.archived_by_key) == (StrategyStatus.ARCHIVED, key)
    task.refresh_from_db()
    assert task.strategy_id == v2.strategy_id
    after = _award(api, user).json()
    assert "experimentArm" not in after
    assert (after["points"], after["strategyVersion"], after["strategyId"]) == (
        20,
        "2",
        v2.strategy_id,
    )
    versions = {row["version"]: row for row in api.get(f"{BASE}/{v2.pk}/versions").json()}
    assert versions[2]["publishedBy"]["prefix"] == key.prefix
    assert api.post(f"{BASE}/{v1.pk}/experiment/promote").json()["code"] == "EXPERIMENT_NOT_RUNNING"


@pytest.mark.usefixtures("task")
@pytest.mark.parametrize("side", ["control", "candidate"])
def test_archiving_either_version_stops_the_experiment(api, realm, family, side):
    v1, v2 = family
    _started(api, v1, v2, share=0.3)
    archived = v1 if side == "control" else v2

    assert api.post(f"{BASE}/{archived.pk}/archive").status_code == 200

    body = api.get(f"{BASE}/{v1.pk}/experiment").json()
    assert body["status"] == "stopped"
    (user,) = _players(realm, share=0.3, arm="candidate", count=1)
    response = _award(api, user)
    if side == "control":  # the kill switch: nothing scores any more
        assert (response.status_code, response.json()["code"]) == (409, "STRATEGY_NOT_PUBLISHED")
    else:
        assert "experimentArm" not in response.json()
        assert response.json()["strategyVersion"] == "1"


def test_publishing_the_candidate_promotes_and_publishing_another_version_stops(family):
    v1, v2 = family
    services.experiment_start(strategy=v1, candidate_id=v2.pk, share=0.5, tag="a")
    services.strategy_publish(strategy=v2)
    assert StrategyExperiment.objects.get(tag="a").status == ExperimentStatus.PROMOTED

    v3 = services.strategy_edit(strategy=v2, changes={"description": "v3"}).strategy
    v4 = services.strategy_edit(strategy=v2, changes={"description": "v4"}).strategy
    services.experiment_start(strategy=v2, candidate_id=v3.pk, share=0.5, tag="b")
    services.strategy_publish(strategy=v4)
    assert StrategyExperiment.objects.get(tag="b").status == ExperimentStatus.STOPPED


# -- one at a time, frozen candidate ----------------------------------------------------------
def test_a_family_runs_one_experiment_at_a_time(api, family):
    v1, v2 = family
    _started(api, v1, v2)
    v3 = services.strategy_edit(strategy=v1, changes={"description": "v3"}).strategy

    second = _start(api, v1, v3, tag="other")

    assert (second.status_code, second.json()["code"]) == (409, "EXPERIMENT_ALREADY_RUNNING")
    api.delete(f"{BASE}/{v1.pk}/experiment")
    assert _start(api, v1, v3, tag="other").status_code == 201
    assert StrategyExperiment.objects.filter(status=ExperimentStatus.RUNNING).count() == 1


def test_the_database_keeps_one_running_experiment_per_family(realm, family):
    v1, v2 = family
    services.experiment_start(strategy=v1, candidate_id=v2.pk, share=0.5, tag="a")
    v3 = services.strategy_edit(strategy=v1, changes={"description": "v3"}).strategy

    with pytest.raises(IntegrityError), transaction.atomic():
        StrategyExperiment.objects.create(
            realm=realm, name="speed", control=v1, candidate=v3, share=0.5, tag="b",
            started_at=timezone.now(),
        )  # fmt: skip


def test_a_version_in_an_experiment_goes_only_with_its_realm(realm, family):
    v1, v2 = family
    services.experiment_start(strategy=v1, candidate_id=v2.pk, share=0.5, tag="a")

    with pytest.raises(RestrictedError):
        v2.delete()
    realm.delete()

    assert not StrategyExperiment.objects.exists()
    assert not StrategyDefinition.objects.exists()


def test_the_candidate_is_frozen_while_its_experiment_runs(api, family):
    v1, v2 = family
    _started(api, v1, v2)

    refused = api.patch(f"{BASE}/{v2.pk}", {"description": "tweak"}, format="json")

    assert (refused.status_code, refused.json()["code"]) == (409, "EXPERIMENT_CANDIDATE_LOCKED")
    api.delete(f"{BASE}/{v1.pk}/experiment")
    assert api.patch(f"{BASE}/{v2.pk}", {"description": "tweak"}, format="json").status_code == 200


# -- refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize("share", [0, 1, -0.1, 1.5, 0.0, 1.0])
def test_a_share_outside_0_and_1_is_refused(api, family, share):
    v1, v2 = family

    response = _start(api, v1, v2, share=share)

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == (
        "EXPERIMENT_SHARE_INVALID",
        "share",
    )
    assert not StrategyExperiment.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"candidateId": "x", "tag": "t"}, {"candidateId": "x", "share": "half", "tag": "t"}],
    ids=["empty", "no share", "share not a number"],
)
def test_a_malformed_start_is_a_validation_error(api, family, body):
    response = api.post(f"{BASE}/{family[0].pk}/experiment", body, format="json")

    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")


def test_a_candidate_must_be_a_draft_of_the_same_family(api, realm, family):
    v1, v2 = family
    stranger = services.strategy_create(
        realm=realm, name="other", type="DSL_FULL", ast_json=strategy_program_full()
    )

    other_family = _start(api, v1, stranger)
    itself = _start(api, v1, v1)
    unknown = api.post(
        f"{BASE}/{v1.pk}/experiment",
        {"candidateId": "custom:not-a-uuid", "share": 0.5, "tag": "t"},
        format="json",
    )
    services.strategy_archive(strategy=v2)
    archived = _start(api, v1, v2)

    assert (other_family.status_code, other_family.json()["code"]) == (
        400,
        "EXPERIMENT_CANDIDATE_OTHER_FAMILY",
    )
    assert (itself.status_code, itself.json()["code"]) == (400, "EXPERIMENT_CANDIDATE_IS_CONTROL")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "STRATEGY_NOT_FOUND")
    assert (archived.status_code, archived.json()["code"]) == (
        409,
        "EXPERIMENT_CANDIDATE_ARCHIVED",
    )
    assert not StrategyExperiment.objects.exists()


def test_a_family_without_a_published_version_has_no_control(api, realm):
    v1 = services.strategy_create(
        realm=realm, name="new", type="DSL_FULL", ast_json=strategy_program_full()
    )
    v2 = services.strategy_import(
        realm=realm, bundle={"name": "new", "type": "DSL_FULL", "ast_json": strategy_program_full()}
    )

    response = _start(api, v1, v2)

    assert (response.status_code, response.json()["code"]) == (
        409,
        "EXPERIMENT_NO_PUBLISHED_VERSION",
    )


def test_a_candidate_whose_program_does_not_validate_is_refused(api, family):
    v1, _ = family
    broken = services.strategy_edit(
        strategy=v1,
        changes={"ast_json": {"type": "program", "rules": [{}]}},
        allow_invalid=True,
    ).strategy

    response = _start(api, v1, broken)

    assert (response.status_code, response.json()["code"]) == (400, "DSL_VALIDATION_ERROR")
    assert response.json()["errors"]


def test_no_experiment_yet_is_a_404_for_every_verb(api, family):
    v1, _ = family
    for response in (
        api.get(f"{BASE}/{v1.pk}/experiment"),
        api.delete(f"{BASE}/{v1.pk}/experiment"),
        api.post(f"{BASE}/{v1.pk}/experiment/promote"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "EXPERIMENT_NOT_FOUND")


# -- realms and keys --------------------------------------------------------------------------
def test_another_realms_strategy_and_candidate_are_not_found(api, other_api, family):
    v1, v2 = family
    rival = RealmFactory(slug="rival")
    theirs_v1, theirs_v2 = _family(
        rival, control=strategy_program_full(), candidate=strategy_program_full(points=3)
    )

    foreign_candidate = _start(api, v1, theirs_v2)
    foreign_strategy = _start(api, theirs_v1, v2)

    assert (foreign_candidate.status_code, foreign_candidate.json()["code"]) == (
        404,
        "STRATEGY_NOT_FOUND",
    )
    assert foreign_candidate.json()["field"] == "candidateId"
    assert (foreign_strategy.status_code, foreign_strategy.json()["code"]) == (
        404,
        "STRATEGY_NOT_FOUND",
    )
    _started(api, v1, v2)
    for response in (
        other_api.get(f"{BASE}/{v1.pk}/experiment"),
        other_api.delete(f"{BASE}/{v1.pk}/experiment"),
        other_api.post(f"{BASE}/{v1.pk}/experiment/promote"),
        _start(other_api, v1, v2),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "STRATEGY_NOT_FOUND")
    assert StrategyExperiment.objects.get().status == ExperimentStatus.RUNNING


def test_the_experiment_endpoints_need_an_active_key(api, family, api_key_pair):
    v1, v2 = family
    anonymous = APIClient()
    assert _start(anonymous, v1, v2).status_code == 401
    assert anonymous.get(f"{BASE}/{v1.pk}/experiment").status_code == 401
    api_key_revoke(api_key=api_key_pair[0])

    response = _start(api, v1, v2)

    assert (response.status_code, response.json()["code"]) == (401, "AUTHENTICATION_FAILED")
    assert not StrategyExperiment.objects.exists()


# -- the report -------------------------------------------------------------------------------
def _scored(api, realm, *, control: list[float], candidate: list[float], share: float = 0.5):
    """Award ``control`` scores to players of the control and ``candidate`` to the others."""
    for arm, scores in (("control", control), ("candidate", candidate)):
        players = _players(realm, share=share, arm=arm, count=len(scores))
        for user, score in zip(players, scores, strict=True):
            response = _award(api, user, score=score)
            assert response.json()["experimentArm"] == arm, response.json()


@pytest.fixture
def scoring_family(realm):
    """v1 awards the event's score, v2 the score + 100."""
    return _family(realm, control=_score_program(), candidate=_score_program(plus=100))


@pytest.fixture
def score_task(realm, scoring_family) -> Task:
    return TaskFactory(
        game=GameFactory(realm=realm, external_game_id="g1"),
        external_task_id="t1",
        strategy_id=scoring_family[0].strategy_id,
    )


@pytest.mark.usefixtures("score_task")
def test_the_report_has_exact_means_intervals_and_a_significant_difference(
    api, realm, scoring_family
):
    v1, v2 = scoring_family
    _started(api, v1, v2, share=0.5)
    _scored(api, realm, control=[1, 2, 3, 4, 5], candidate=[1, 2, 3, 4, 5, 6])

    body = api.get(f"{BASE}/{v1.pk}/experiment").json()

    control, candidate = body["arms"]["control"], body["arms"]["candidate"]
    assert (control["awards"], control["meanPoints"], control["version"]) == (5, 3.0, 1)
    assert (candidate["awards"], candidate["meanPoints"], candidate["version"]) == (6, 103.5, 2)
    # 3 +- t(0.975, 4) * sqrt(2.5 / 5)
    half = 2.776445105 * math.sqrt(2.5 / 5)
    assert control["meanPointsCi95"]["low"] == pytest.approx(3 - half, rel=1e-8)
    assert control["meanPointsCi95"]["high"] == pytest.approx(3 + half, rel=1e-8)
    assert body["comparison"]["difference"] == pytest.approx(100.5)
    assert body["comparison"]["pValue"] < 0.01
    assert body["since"] == body["startedAt"]


@pytest.mark.usefixtures("score_task")
def test_identical_arms_have_a_p_value_of_one(api, realm):
    v1, _ = _family(realm, name="same", control=_score_program(), candidate=_score_program())
    v2 = StrategyDefinition.objects.get(name="same", version=2)
    Task.objects.update(strategy_id=v1.strategy_id)
    _started(api, v1, v2, share=0.5)
    players = {
        arm: _players(realm, share=0.5, arm=arm, count=4, family="same")
        for arm in ("control", "candidate")
    }
    for arm_players in players.values():
        for user, score in zip(arm_players, [2, 4, 4, 10], strict=True):
            assert _award(api, user, score=score).status_code == 201

    body = api.get(f"{BASE}/{v1.pk}/experiment").json()

    assert body["arms"]["control"]["meanPoints"] == body["arms"]["candidate"]["meanPoints"] == 5
    assert body["comparison"]["difference"] == 0
    assert body["comparison"]["pValue"] == pytest.approx(1.0)


@pytest.mark.usefixtures("score_task")
def test_the_report_counts_only_the_experiments_own_awards(api, realm, scoring_family):
    v1, v2 = scoring_family
    (user,) = _players(realm, share=0.5, arm="control", count=1)
    _award(api, user, score=1000)  # before the experiment: no arm
    _started(api, v1, v2, share=0.5, tag="first")
    _scored(api, realm, control=[1], candidate=[1])
    api.delete(f"{BASE}/{v1.pk}/experiment")
    _award(api, user, score=1000)  # between experiments: no arm
    _started(api, v1, v2, share=0.5, tag="second")
    _scored(api, realm, control=[5, 7], candidate=[2])

    body = api.get(f"{BASE}/{v1.pk}/experiment").json()

    assert body["tag"] == "second"
    assert (body["arms"]["control"]["awards"], body["arms"]["control"]["meanPoints"]) == (2, 6)
    assert (body["arms"]["candidate"]["awards"], body["arms"]["candidate"]["meanPoints"]) == (
        1,
        102,
    )
    assert body["arms"]["candidate"]["meanPointsCi95"] is None
    assert body["comparison"] is None  # one candidate award: no test yet


def _log(*, realm, definition, at, status="ok", duration=1.0, sampled=True, rate=1.0, points=1):
    return StrategyExecutionLog(
        created_at=at,
        realm=realm,
        strategy_id=definition.strategy_id,
        definition_id=definition.pk,
        strategy_version=str(definition.version),
        strategy_type="DSL_FULL",
        status=status,
        error_code=None if status == "ok" else "DSL_ARITH_DIV_BY_ZERO",
        points=points if status == "ok" else None,
        duration_ms=duration,
        sampled=sampled if status == "ok" else False,
        sample_rate=rate if status == "ok" else 1.0,
    )


def test_the_reports_error_rate_and_p95_weigh_sampled_rows_by_their_rate(api, realm, family):
    v1, v2 = family
    started = _started(api, v1, v2, share=0.5)
    at = StrategyExperiment.objects.get(pk=started["id"]).started_at + timedelta(milliseconds=1)
    rival = RealmFactory(slug="rival")
    StrategyExecutionLog.objects.bulk_create(
        [
            # control: 4 ok rows sampled at 50 % (8 runs) and 2 failures: 10 runs, 20 % failed
            *(_log(realm=realm, definition=v1, at=at, duration=d, rate=0.5) for d in (1, 2, 3, 4)),
            _log(realm=realm, definition=v1, at=at, status="error", duration=10),
            _log(realm=realm, definition=v1, at=at, status="error", duration=20),
            # candidate: 3 ok rows, all kept
            *(_log(realm=realm, definition=v2, at=at, duration=d) for d in (5, 6, 7)),
            # neither: before the experiment, or another realm's
            _log(realm=realm, definition=v1, at=at - timedelta(hours=1), status="error"),
            _log(realm=rival, definition=v2, at=at, status="error"),
        ]
    )

    body = api.get(f"{BASE}/{v1.pk}/experiment").json()

    control, candidate = body["arms"]["control"], body["arms"]["candidate"]
    assert (control["runs"], control["logRows"], control["errorRate"]) == (10, 6, 0.2)
    # Durations as runs: 1 1 2 2 3 3 4 4 10 20; the 95th percentile sits at 8.55: 10 + 0.55 * 10.
    assert control["p95"] == pytest.approx(15.5)
    assert (candidate["runs"], candidate["logRows"], candidate["errorRate"]) == (3, 3, 0)
    assert candidate["p95"] == pytest.approx(6.9)


def test_a_stopped_experiments_report_ends_when_it_stopped(api, realm, family):
    v1, v2 = family
    _started(api, v1, v2)
    stopped = api.delete(f"{BASE}/{v1.pk}/experiment").json()
    experiment = StrategyExperiment.objects.get()
    StrategyExecutionLog.objects.bulk_create(
        [_log(realm=realm, definition=v2, at=experiment.stopped_at + timedelta(seconds=1))]
    )

    body = api.get(f"{BASE}/{v1.pk}/experiment").json()

    assert (body["status"], body["until"]) == ("stopped", stopped["stoppedAt"])
    assert body["arms"]["candidate"]["runs"] == 0


# -- the schema -------------------------------------------------------------------------------
@pytest.mark.usefixtures("db")
def test_the_schema_documents_the_arm_of_an_award_and_the_experiment_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    award = components["AwardResponse"]
    assert "experimentArm" in award["properties"]
    assert "experimentArm" not in award.get("required", [])
    path = schema["paths"]["/api/v1/strategies/custom/{strategy_id}/experiment"]
    assert {"get", "post", "delete"} <= set(path)
    assert "/api/v1/strategies/custom/{strategy_id}/experiment/promote" in schema["paths"]
    report = components["ExperimentReport"]["properties"]
    assert {"arms", "comparison", "since", "until", "status", "share"} <= set(report)
    arm = components["ArmFigures"]["properties"]
    assert {"runs", "meanPoints", "meanPointsCi95", "errorRate", "p95", "awards"} <= set(arm)
    assert {"difference", "pValue"} <= set(components["Comparison"]["properties"])
