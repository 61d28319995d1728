"""Levels, streaks and badges: their API, the award's answer and what its write keeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from gamification.achievements.definitions import (
    BADGE_TASKS_MAX,
    BADGES_MAX,
    achievements_forget,
)
from gamification.achievements.services import achievements_award_reverse
from gamification.auth import api_key_cache_forget
from gamification.models import Award, Badge, Game, PlayerBadge, PlayerGameStats, WebhookMessage
from gamification.webhooks import webhook_endpoint_create
from strategies import services as strategy_services

pytestmark = pytest.mark.django_db

GAME = "/api/v1/games/quiz"

#: Awards ``data.points`` points.
POINTS_PROGRAM = {
    "type": "program",
    "rules": [],
    "default": {
        "type": "assign_points",
        "value": {"type": "field", "path": "data.points"},
        "case_name": "Points",
    },
}
LEVELS = [
    {"level": 1, "name": "Rookie", "minPoints": 0},
    {"level": 2, "name": "Pro", "minPoints": 10},
    {"level": 3, "name": "Master", "minPoints": 25},
]


def _compare(path: str, op: str, value) -> dict:
    return {
        "type": "compare",
        "op": op,
        "left": {"type": "field", "path": path},
        "right": {"type": "literal", "value": value},
    }


@pytest.fixture(autouse=True)
def _fresh_definitions():
    achievements_forget()
    yield
    achievements_forget()


@pytest.fixture(autouse=True)
def game(api: APIClient, realm) -> Game:
    row = strategy_services.strategy_create(
        realm=realm, name="points", type="DSL_FULL", ast_json=POINTS_PROGRAM
    )
    strategy_services.strategy_publish(strategy=row)
    created = api.post(
        "/api/v1/games",
        {"externalGameId": "quiz", "strategyId": row.strategy_id},
        format="json",
    )
    assert created.status_code == 201, created.content
    for task in ("t1", "t2"):
        assert api.post(f"{GAME}/tasks", {"externalTaskId": task}, format="json").status_code == 201
    return Game.objects.get(realm=realm, external_game_id="quiz")


def _award(api: APIClient, points: float = 1, *, user: str = "alice", task: str = "t1", **data):
    response = api.post(
        f"{GAME}/tasks/{task}/points",
        {"externalUserId": user, "data": {"points": points, **data}},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_game_without_achievements_answers_as_before(api):
    body = _award(api, 3)
    assert not {"level", "streak", "badgesEarned"} & set(body)


def test_levels_are_put_and_read_back(api, game):
    response = api.put(f"{GAME}/levels", LEVELS, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"levels": LEVELS, "streakPeriod": ""}
    assert api.get(f"{GAME}/levels").json()["levels"] == LEVELS
    game.refresh_from_db()
    assert game.achievements_version == 1
    assert game.achievements_api_key is not None


@pytest.mark.parametrize(
    ("levels", "code"),
    [
        (
            [
                {"level": 2, "name": "B", "minPoints": 10},
                {"level": 1, "name": "A", "minPoints": 20},
            ],
            "LEVELS_INVALID",
        ),
        (
            [
                {"level": 1, "name": "A", "minPoints": 10},
                {"level": 2, "name": "B", "minPoints": 10},
            ],
            "LEVELS_INVALID",
        ),
        ([{"level": 1, "name": "A"}], "VALIDATION_ERROR"),
        ({"levels": "many"}, "VALIDATION_ERROR"),
        ([{"level": 1, "name": "A", "minPoints": 0}] * 101, "VALIDATION_ERROR"),
    ],
)
def test_levels_out_of_order_or_malformed_are_refused(api, game, levels, code):
    response = api.put(f"{GAME}/levels", levels, format="json")
    assert (response.status_code, response.json()["code"]) == (400, code)
    game.refresh_from_db()
    assert (game.levels, game.achievements_version) == ([], 0)


def test_the_level_changes_at_each_threshold(api):
    api.put(f"{GAME}/levels", LEVELS, format="json")
    seen = [_award(api, points)["level"] for points in (5, 5, 14, 1, 100)]
    assert seen == [
        {"level": 1, "name": "Rookie", "changed": False},
        {"level": 2, "name": "Pro", "changed": True},
        {"level": 2, "name": "Pro", "changed": False},
        {"level": 3, "name": "Master", "changed": True},
        {"level": 3, "name": "Master", "changed": False},
    ]


def test_below_the_first_threshold_there_is_no_level(api):
    api.put(f"{GAME}/levels", [{"level": 1, "name": "Rookie", "minPoints": 5}], format="json")
    assert _award(api, 2)["level"] == {"level": None, "name": None, "changed": False}
    assert _award(api, 3)["level"] == {"level": 1, "name": "Rookie", "changed": True}


def test_streaks_count_local_days_and_a_missed_day_starts_again(
    api, api_key_pair, game, realm, clock
):
    realm.timezone = "Europe/Paris"
    realm.save()
    api_key_cache_forget(api_key_pair[0].prefix)
    api.put(f"{GAME}/levels", {"levels": [], "streakPeriod": "day"}, format="json")
    streaks = []
    for moment in (
        datetime(2026, 3, 10, 22, 30, tzinfo=UTC),  # 23:30 on the 10th in Paris
        datetime(2026, 3, 10, 23, 30, tzinfo=UTC),  # 00:30 on the 11th: the next local day
        datetime(2026, 3, 11, 21, 0, tzinfo=UTC),  # still the 11th
        datetime(2026, 3, 13, 9, 0, tzinfo=UTC),  # the 12th was missed
        datetime(2026, 3, 14, 9, 0, tzinfo=UTC),
    ):
        clock(moment)
        streaks.append(_award(api)["streak"])
    assert streaks == [
        {"current": 1, "longest": 1},
        {"current": 2, "longest": 2},
        {"current": 2, "longest": 2},
        {"current": 1, "longest": 2},
        {"current": 2, "longest": 2},
    ]
    stats = PlayerGameStats.objects.get(game=game)
    assert (stats.current_streak, stats.longest_streak) == (2, 2)
    assert str(stats.streak_period_start) == "2026-03-14"
    clock(datetime(2026, 3, 15, 12, 0, tzinfo=UTC))
    assert api.get(f"{GAME}/players/alice").json()["streak"] == {"current": 2, "longest": 2}
    clock(datetime(2026, 3, 16, 12, 0, tzinfo=UTC))
    assert api.get(f"{GAME}/players/alice").json()["streak"] == {"current": 0, "longest": 2}


def test_weekly_streaks_run_from_monday(api, clock):
    api.put(f"{GAME}/levels", {"levels": [], "streakPeriod": "week"}, format="json")
    streaks = []
    for day in (1, 6, 8, 22):  # Sunday 1 March 2026, Friday, Sunday 8 (next week), a gap
        clock(datetime(2026, 3, day, 12, 0, tzinfo=UTC))
        streaks.append(_award(api)["streak"]["current"])
    assert streaks == [1, 2, 2, 1]


def test_a_badge_is_granted_once_and_a_repeatable_one_each_time(api):
    once = api.post(
        f"{GAME}/badges",
        {"badgeId": "second", "name": "Twice", "condition": _compare("player.awards", ">=", 2)},
        format="json",
    )
    assert once.status_code == 201, once.content
    again = api.post(
        f"{GAME}/badges",
        {
            "badgeId": "perfect",
            "name": "Perfect",
            "repeatable": True,
            "condition": _compare("data.score", "==", 100),
        },
        format="json",
    )
    assert again.status_code == 201, again.content
    earned = [_award(api, score=score)["badgesEarned"] for score in (100, 50, 100, 100)]
    assert earned == [["perfect"], ["second"], ["perfect"], ["perfect"]]
    assert PlayerBadge.objects.filter(badge__badge_id="second").count() == 1
    assert PlayerBadge.objects.filter(badge__badge_id="perfect").count() == 3
    listed = api.get(f"{GAME}/badges").json()["results"]
    assert [badge["badgeId"] for badge in listed] == ["perfect", "second"]
    assert listed[0]["repeatable"] is True


def test_badge_conditions_read_the_state_after_the_award(api):
    api.put(f"{GAME}/levels", LEVELS, format="json")
    conditions = {
        "rich": _compare("player.points", ">=", 10),
        "pro": _compare("player.level", ">=", 2),
        "t2-twice": _compare("player.tasks.t2.awards", ">=", 2),
    }
    for badge_id, condition in conditions.items():
        response = api.post(
            f"{GAME}/badges",
            {"badgeId": badge_id, "name": badge_id, "condition": condition},
            format="json",
        )
        assert response.status_code == 201, response.content
    assert _award(api, 4, task="t2")["badgesEarned"] == []
    assert _award(api, 6, task="t1")["badgesEarned"] == ["pro", "rich"]
    assert _award(api, 1, task="t2")["badgesEarned"] == ["t2-twice"]


def test_an_invalid_condition_answers_400_with_pointers(api, game):
    response = api.post(
        f"{GAME}/badges",
        {
            "badgeId": "bad",
            "name": "Bad",
            "condition": {
                "type": "and",
                "args": [
                    _compare("user.points", ">", 1),
                    {"type": "compare", "op": "~", "left": {"type": "literal", "value": 1}},
                ],
            },
        },
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "DSL_VALIDATION_ERROR"
    assert body["field"] == "condition"
    assert [(error["code"], error["pointer"]) for error in body["errors"]] == [
        ("DSL_FIELD_PATH_NOT_ALLOWED", "/args/0/left"),
        ("DSL_MISSING_KEY", "/args/1"),
        ("DSL_COMPARE_OP_NOT_ALLOWED", "/args/1"),
    ]
    game.refresh_from_db()
    assert game.achievements_version == 0
    assert not game.badges.exists()


@pytest.mark.parametrize(
    "condition",
    [
        {"type": "arith", "op": "+", "left": {"type": "literal", "value": 1}},
        {"type": "field", "path": "parent.points"},
        "player.points >= 2",
        None,
    ],
)
def test_conditions_that_are_no_conditions_are_refused(api, game, condition):
    response = api.post(
        f"{GAME}/badges", {"badgeId": "b", "name": "B", "condition": condition}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] in {"DSL_VALIDATION_ERROR", "VALIDATION_ERROR"}
    assert not game.badges.exists()


def test_a_badge_id_is_unique_in_its_game(api):
    badge = {"badgeId": "b", "name": "B", "condition": {"type": "literal", "value": True}}
    assert api.post(f"{GAME}/badges", badge, format="json").status_code == 201
    response = api.post(f"{GAME}/badges", badge, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "BADGE_ALREADY_EXISTS")


def _naming_tasks(first: int, count: int) -> dict:
    """A condition over ``count`` tasks of its own (``or`` of one comparison per task)."""
    return {
        "type": "or",
        "args": [
            _compare(f"player.tasks.x{n}.awards", ">=", 1) for n in range(first, first + count)
        ],
    }


def test_the_tasks_a_games_badges_name_are_bounded_and_its_awards_keep_working(api, game):
    # Each task a condition names is one more probe (and column) of every award's read:
    # unbounded, a few badges at the node limit made every award of the game fail.
    per_badge = 300
    statuses = [
        api.post(
            f"{GAME}/badges",
            {
                "badgeId": f"wide{n}",
                "name": "W",
                "condition": _naming_tasks(n * per_badge, per_badge),
            },
            format="json",
        )
        for n in range(7)
    ]

    assert statuses[0].status_code == 409
    assert statuses[0].json()["code"] == "BADGE_LIMIT_REACHED"
    assert statuses[0].json()["maxTasks"] == BADGE_TASKS_MAX
    assert not game.badges.exists()
    narrow = _naming_tasks(0, BADGE_TASKS_MAX)
    assert (
        api.post(
            f"{GAME}/badges", {"badgeId": "n", "name": "N", "condition": narrow}, format="json"
        )
    ).status_code == 201
    more = {"badgeId": "m", "name": "M", "condition": _compare("player.tasks.t1.awards", ">=", 1)}
    assert api.post(f"{GAME}/badges", more, format="json").json()["code"] == "BADGE_LIMIT_REACHED"
    assert _award(api, 1)["badgesEarned"] == []


def test_a_game_has_at_most_badges_max_badges(api, game):
    literal = {"type": "literal", "value": False}
    Badge.objects.bulk_create(
        Badge(game=game, badge_id=f"b{n}", name="B", condition=literal) for n in range(BADGES_MAX)
    )

    response = api.post(
        f"{GAME}/badges", {"badgeId": "one-more", "name": "B", "condition": literal}, format="json"
    )

    assert (response.status_code, response.json()["code"]) == (409, "BADGE_LIMIT_REACHED")
    assert response.json()["maxBadges"] == BADGES_MAX
    assert game.badges.count() == BADGES_MAX


def test_badges_over_the_limits_written_around_the_api_leave_the_awards_working(api, game):
    # Written before the limits existed, or straight into the table: the badges within the
    # limits (in badge id order) count, the rest are left out, and awards go on.
    Badge.objects.bulk_create(
        Badge(game=game, badge_id=f"wide{n}", name="W", condition=_naming_tasks(n * 300, 300))
        for n in range(7)
    )
    Badge.objects.create(
        game=game, badge_id="first", name="F", condition=_compare("player.awards", ">=", 1)
    )
    Game.objects.filter(pk=game.pk).update(achievements_version=5)

    body = _award(api, 1)

    assert body["badgesEarned"] == ["first"]


def test_a_failing_condition_skips_its_badge_and_keeps_the_award(api):
    api.post(
        f"{GAME}/badges",
        {"badgeId": "typed", "name": "T", "condition": _compare("data.score", ">", 1)},
        format="json",
    )
    body = _award(api, 2, score="high")
    assert (body["points"], body["badgesEarned"]) == (2, [])


def test_a_condition_failing_on_every_award_is_logged_once_a_minute(api, caplog, monkeypatch):
    from gamification.achievements import awards

    api.post(
        f"{GAME}/badges",
        {"badgeId": "typed", "name": "T", "condition": _compare("data.score", ">", 1)},
        format="json",
    )
    now = [1000.0]
    monkeypatch.setattr(awards, "monotonic", lambda: now[0])
    monkeypatch.setattr(awards, "_CONDITION_FAILURES", {})
    with caplog.at_level("WARNING", logger=awards.logger.name):
        for _ in range(5):
            assert _award(api, 2, score="high")["badgesEarned"] == []
        now[0] += awards.CONDITION_FAILURE_LOG_INTERVAL_SECONDS
        assert _award(api, 2, score="high")["badgesEarned"] == []
    lines = [record.getMessage() for record in caplog.records if record.name == awards.logger.name]
    assert len(lines) == 2, lines
    assert "badge typed of game" in lines[0]
    assert lines[0].endswith("(1 time(s) since last said)")
    assert lines[1].endswith("(5 time(s) since last said)")


def test_the_profile_answers_points_level_streak_and_badges(api, clock):
    clock(datetime(2026, 5, 4, 10, 0, tzinfo=UTC))
    api.put(f"{GAME}/levels", {"levels": LEVELS, "streakPeriod": "day"}, format="json")
    api.post(
        f"{GAME}/badges",
        {"badgeId": "first", "name": "First", "condition": {"type": "literal", "value": True}},
        format="json",
    )
    _award(api, 12)
    clock(datetime(2026, 5, 5, 10, 0, tzinfo=UTC))
    _award(api, 1, task="t2")
    body = api.get(f"{GAME}/players/alice").json()
    assert body == {
        "externalUserId": "alice",
        "externalGameId": "quiz",
        "points": 13.0,
        "awards": 2,
        "level": {"level": 2, "name": "Pro"},
        "streak": {"current": 2, "longest": 2},
        "badges": [
            {
                "badgeId": "first",
                "name": "First",
                "count": 1,
                "earnedAt": "2026-05-04T10:00:00Z",
                "lastEarnedAt": "2026-05-04T10:00:00Z",
            }
        ],
    }
    missing = api.get(f"{GAME}/players/nobody")
    assert (missing.status_code, missing.json()["code"]) == (404, "PLAYER_NOT_FOUND")


def test_the_idempotent_replay_answers_the_stored_body(api):
    api.put(f"{GAME}/levels", {"levels": LEVELS, "streakPeriod": "day"}, format="json")
    api.post(
        f"{GAME}/badges",
        {"badgeId": "first", "name": "First", "condition": {"type": "literal", "value": True}},
        format="json",
    )
    url = f"{GAME}/tasks/t1/points"
    payload = {"externalUserId": "alice", "data": {"points": 11}}
    first = api.post(url, payload, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = api.post(url, payload, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.content == again.content
    assert json.loads(first.content)["badgesEarned"] == ["first"]
    assert PlayerBadge.objects.count() == 1


def test_a_dry_run_answers_achievements_and_writes_none(api):
    api.put(f"{GAME}/levels", {"levels": LEVELS, "streakPeriod": "day"}, format="json")
    response = api.post(
        f"{GAME}/tasks/t1/points",
        {"externalUserId": "alice", "data": {"points": 11}, "dryRun": True},
        format="json",
    )
    assert response.json()["level"] == {"level": 2, "name": "Pro", "changed": True}
    assert not PlayerGameStats.objects.exists()


def test_changes_reach_a_process_that_cached_the_definitions(api):
    api.put(f"{GAME}/levels", LEVELS, format="json")
    assert _award(api, 1)["level"]["name"] == "Rookie"
    api.put(f"{GAME}/levels", [{"level": 7, "name": "Seven", "minPoints": 0}], format="json")
    assert _award(api, 1)["level"] == {"level": 7, "name": "Seven", "changed": False}
    api.post(
        f"{GAME}/badges",
        {"badgeId": "late", "name": "Late", "condition": {"type": "literal", "value": True}},
        format="json",
    )
    assert _award(api, 1)["badgesEarned"] == ["late"]


def test_badge_and_level_events_go_to_the_outbox_of_listeners_only(api, realm, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    api.put(f"{GAME}/levels", LEVELS, format="json")
    api.post(
        f"{GAME}/badges",
        {"badgeId": "first", "name": "First", "condition": {"type": "literal", "value": True}},
        format="json",
    )
    _award(api, 1, user="quiet")
    assert not WebhookMessage.objects.exists()
    webhook_endpoint_create(
        realm=realm, url="http://127.0.0.1:9/hook", events=["badge.earned", "level.reached"]
    )
    _award(api, 12)
    bodies = {
        message.event_type: json.loads(message.body)["data"]
        for message in WebhookMessage.objects.all()
    }
    assert set(bodies) == {"badge.earned", "level.reached"}
    assert bodies["badge.earned"]["badgeId"] == "first"
    assert bodies["badge.earned"]["externalUserId"] == "alice"
    assert bodies["level.reached"]["level"] == {"level": 2, "name": "Pro"}
    assert bodies["level.reached"]["previousLevel"] == {"level": 1, "name": "Rookie"}
    _award(api, 1)  # the badge is held, the level stays: nothing more to tell
    assert WebhookMessage.objects.count() == 2


def test_another_realm_sees_none_of_it(api, other_api, game):
    api.put(f"{GAME}/levels", LEVELS, format="json")
    api.post(
        f"{GAME}/badges",
        {"badgeId": "first", "name": "First", "condition": {"type": "literal", "value": True}},
        format="json",
    )
    _award(api, 1)
    badge = {"badgeId": "x", "name": "X", "condition": {"type": "literal", "value": True}}
    for response in (
        other_api.get(f"{GAME}/levels"),
        other_api.put(f"{GAME}/levels", LEVELS, format="json"),
        other_api.get(f"{GAME}/badges"),
        other_api.post(f"{GAME}/badges", badge, format="json"),
        other_api.get(f"{GAME}/players/alice"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "GAME_NOT_FOUND")
    game.refresh_from_db()
    assert (game.badges.count(), game.achievements_version) == (1, 2)


def test_a_reversed_award_gives_back_its_badges_and_its_streak_day(api, game, clock):
    api.put(f"{GAME}/levels", {"levels": [], "streakPeriod": "day"}, format="json")
    api.post(
        f"{GAME}/badges",
        {"badgeId": "second", "name": "Twice", "condition": _compare("player.awards", ">=", 2)},
        format="json",
    )
    awarded = []
    for day in (1, 2, 3):
        clock(datetime(2026, 6, day, 12, 0, tzinfo=UTC))
        awarded.append(_award(api))
    assert awarded[1]["badgesEarned"] == ["second"]
    assert awarded[2]["streak"] == {"current": 3, "longest": 3}

    taken = achievements_award_reverse(award=Award.objects.get(pk=awarded[1]["awardId"]))

    assert taken.badge_ids == ("second",)
    assert (taken.current_streak, taken.longest_streak) == (1, 1)
    assert not PlayerBadge.objects.exists()
    stats = PlayerGameStats.objects.get(game=game)
    assert (stats.current_streak, stats.longest_streak) == (1, 1)
    assert str(stats.streak_period_start) == "2026-06-03"


def test_reversing_through_the_api_takes_back_badges_level_and_streak(api, clock):
    api.put(f"{GAME}/levels", {"levels": LEVELS, "streakPeriod": "day"}, format="json")
    api.post(
        f"{GAME}/badges",
        {"badgeId": "second", "name": "Twice", "condition": _compare("player.awards", ">=", 2)},
        format="json",
    )
    clock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    _award(api, 5)
    clock(datetime(2026, 6, 2, 12, 0, tzinfo=UTC))
    second = _award(api, 20)
    assert (second["level"]["level"], second["badgesEarned"]) == (3, ["second"])

    reversed_ = api.post(
        f"/api/v1/awards/{second['awardId']}/reverse", {"reason": "cheat"}, format="json"
    )

    assert reversed_.status_code == 201, reversed_.content
    assert reversed_.json()["badgesTakenBack"] == ["second"]
    profile = api.get(f"{GAME}/players/alice").json()
    assert (profile["points"], profile["awards"], profile["level"]["level"]) == (5, 1, 1)
    assert profile["badges"] == []
    assert profile["streak"]["longest"] == 1
    clock(datetime(2026, 6, 2, 13, 0, tzinfo=UTC))
    again = _award(api, 1)
    assert again["badgesEarned"] == ["second"]
    assert again["streak"] == {"current": 2, "longest": 2}
