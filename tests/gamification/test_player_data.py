"""Player data requests on PostgreSQL: the export holds every section, the erasure leaves
nothing of the player in any table or in Redis and keeps every total, both are audited, and
another realm's player is a 404 and is left alone."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from gamification.leaderboards.cache import EMPTY_MEMBER
from gamification.models import (
    ApiKey,
    Award,
    AwardReversal,
    LeaderboardEntry,
    LedgerEntry,
    Player,
    PlayerBadge,
    PlayerDataRequest,
    PlayerGameStats,
    PlayerTaskStats,
    Realm,
    Task,
    TaskStats,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
)
from gamification.services import api_key_create
from observability.models import ExecutionLogDeadLetter, StrategyExecutionLog
from observability.services import execution_log_rows_persist, execution_logs_persist
from strategies.models import Backtest, StrategyDefinition
from tests.factories import GameFactory, RealmFactory, TaskFactory, member_client
from tests.gamification.leaderboard_helpers import (
    boards_from_awards,
    points_strategy,
    stored_boards,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="tests on PostgreSQL"),
]

USER = "alice-7f3e9c"
#: A value only the player's events hold: nothing may keep it after the erasure.
SECRET = "alice.private@example.org"


def _client(realm: Realm) -> tuple[APIClient, ApiKey]:
    key, raw = api_key_create(realm=realm, name=f"{realm.slug}-server")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client, key


@pytest.fixture
def world(settings, execution_log_rows_kept_in_memory):
    """A realm whose player has awards on two tasks (one under an Idempotency-Key), entries,
    logged runs, ``award.created`` deliveries and a backtest naming it; another player; and a
    second realm with a player of the same external id."""
    settings.DSL_EXECUTION_LOG_SAMPLE_RATE = 1.0
    realm = RealmFactory(slug="acme")
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    tasks = [TaskFactory(game=game, external_task_id=f"t{n}", strategy_id=strategy) for n in (1, 2)]
    WebhookEndpoint.objects.create(
        realm=realm, url="https://hooks.example/in", events=["award.created"], secret="whsec_x"
    )
    api, key = _client(realm)

    def award(client: APIClient, task: str, user: str, points: int, **headers: str) -> dict:
        email = SECRET if user == USER else f"{user}@example.org"
        response = client.post(
            f"/api/v1/games/g1/tasks/{task}/points",
            {"externalUserId": user, "data": {"points": points, "email": email}},
            format="json",
            **headers,
        )
        assert response.status_code == 201, response.content
        return response.json()

    award(api, "t1", USER, 5, HTTP_IDEMPOTENCY_KEY=f"{USER}-attempt-1")
    award(api, "t1", USER, 3)
    award(api, "t2", USER, 7)
    award(api, "t1", "bob", 4)

    rival = RealmFactory(slug="rival")
    rival_strategy = points_strategy(rival)
    rival_game = GameFactory(realm=rival, external_game_id="g1", strategy_id=rival_strategy)
    TaskFactory(game=rival_game, external_task_id="t1", strategy_id=rival_strategy)
    rival_api, _ = _client(rival)

    definition = StrategyDefinition.objects.get(realm=realm)
    Backtest.objects.create(
        realm=realm,
        strategy=definition,
        type=definition.type,
        ast_json=definition.ast_json,
        since=timezone.now() - timedelta(days=1),
        until=timezone.now(),
        max_events=10,
        status="done",
        result={
            "events": 4,
            "top_movers": [
                {"external_user_id": USER, "before": 15.0, "after": 30.0},
                {"external_user_id": "bob", "before": 4.0, "after": 8.0},
            ],
        },
    )
    return {
        "realm": realm,
        "game": game,
        "tasks": tasks,
        "api": api,
        "key": key,
        "award": award,
        "rival": rival,
        "rival_api": rival_api,
        "logs": execution_log_rows_kept_in_memory,
    }


def _persist_logs(world) -> None:
    """Hand the rows the observer made to the worker's insert, as the Celery task would; one
    more row of the player's, refused, goes to the dead letters as the worker sends it."""
    rows = list(world["logs"])
    execution_logs_persist(rows=rows)
    world["logs"].clear()
    refused = {**next(r for r in rows if r["external_user_id"] == USER), "id": "not-a-uuid"}
    execution_log_rows_persist(rows=[refused])


def _export(client: APIClient, user: str = USER):
    response = client.get(f"/api/v1/players/{user}/export")
    if response.status_code != 200:
        return response, None
    assert response.streaming
    return response, json.loads(b"".join(response.streaming_content))


def _tables_holding(text: str) -> dict[str, int]:
    """Every table of the database with rows whose text holds ``text``, and how many."""
    found = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            name = connection.ops.quote_name(table)
            cursor.execute(f"SELECT COUNT(*) FROM {name} t WHERE t::text LIKE %s", [f"%{text}%"])
            count = cursor.fetchone()[0]
            if count:
                found[table] = count
    return found


def _redis_holding(redis, text: str) -> list[str]:
    """Every Redis key whose name, value or members hold ``text``."""
    found = []
    for key in redis.scan_iter():
        kind = redis.type(key).decode()
        if kind == "zset":
            values = [member for member, _ in redis.zrange(key, 0, -1, withscores=True)]
        elif kind == "list":
            values = redis.lrange(key, 0, -1)
        elif kind == "set":
            values = list(redis.smembers(key))
        elif kind == "string":
            values = [redis.get(key)]
        else:
            values = []
        if text.encode() in key or any(text.encode() in value for value in values):
            found.append(key.decode())
    return found


def test_export_holds_every_section_of_the_player(world):
    _persist_logs(world)
    response, body = _export(world["api"])

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert body["externalUserId"] == USER
    assert list(body) == [
        "externalUserId",
        "createdAt",
        "exportedAt",
        "awards",
        "taskStats",
        "leaderboardEntries",
        "webhookMessages",
        "wallet",
        "ledgerEntries",
        "awardReversals",
        "badges",
        "gameStats",
        "backtestMentions",
        "executionLogs",
        "executionLogDeadLetters",
    ]
    awards = body["awards"]
    assert sorted(a["points"] for a in awards) == [3, 5, 7]
    assert {a["externalTaskId"] for a in awards} == {"t1", "t2"}
    assert all(a["data"] == {"points": a["points"], "email": SECRET} for a in awards)
    keyed = next(a for a in awards if a["idempotencyKey"])
    assert keyed["idempotencyKey"] == f"{USER}-attempt-1"
    assert keyed["storedAnswer"]["externalUserId"] == USER
    assert sorted((s["externalTaskId"], s["pointsTotal"]) for s in body["taskStats"]) == [
        ("t1", 8.0),
        ("t2", 7.0),
    ]
    # Four periods on the game's board and on each task's.
    assert len(body["leaderboardEntries"]) == 12
    game_all = next(
        e
        for e in body["leaderboardEntries"]
        if e["externalTaskId"] is None and e["period"] == "all"
    )
    assert (game_all["points"], game_all["awards"]) == (15.0, 3)
    assert len(body["webhookMessages"]) == 3
    assert {m["body"]["data"]["externalUserId"] for m in body["webhookMessages"]} == {USER}
    assert body["backtestMentions"] == [
        {
            "backtestId": str(Backtest.objects.get().pk),
            "strategyId": str(StrategyDefinition.objects.get(realm=world["realm"]).pk),
            "createdAt": body["backtestMentions"][0]["createdAt"],
            "before": 15.0,
            "after": 30.0,
        }
    ]
    logs = body["executionLogs"]
    assert len(logs) == 3
    (letter,) = body["executionLogDeadLetters"]
    assert letter["rows"][0]["data"]["email"] == SECRET
    assert all(log["data"]["email"] == SECRET for log in logs)

    record = PlayerDataRequest.objects.get()
    assert (record.kind, record.realm, record.requested_by_key) == (
        "export",
        world["realm"],
        world["key"],
    )
    assert record.player == Player.objects.get(external_user_id=USER)
    assert record.rows == {
        "awards": 3,
        "taskStats": 2,
        "leaderboardEntries": 12,
        "webhookMessages": 3,
        "wallet": 1,
        "ledgerEntries": 3,
        "awardReversals": 0,
        "badges": 0,
        "gameStats": 0,
        "backtestMentions": 1,
        "executionLogs": 3,
        "executionLogDeadLetters": 1,
    }


def test_erase_leaves_nothing_of_the_player_in_any_table_or_in_redis(world, leaderboard_redis):
    _persist_logs(world)
    api = world["api"]
    assert api.get("/api/v1/games/g1/leaderboard?around=bob").status_code == 200  # builds the set
    assert _redis_holding(leaderboard_redis, USER)
    _export(api)  # an earlier export's record must not keep the id either
    # Receivers that echo what they were sent, as many do in an error page.
    for message in WebhookMessage.objects.all():
        WebhookAttempt.objects.create(
            message=message,
            attempted_at=timezone.now(),
            delivered=False,
            status_code=400,
            latency_ms=3.0,
            response_excerpt=f"rejected: {message.body}"[:500],
        )
    # The search finds the player wherever it is stored, before.
    assert set(_tables_holding(USER)) >= {
        "gamification_player",
        "gamification_award",
        "gamification_leaderboardentry",
        "gamification_webhookmessage",
        "gamification_webhookattempt",
        "observability_strategyexecutionlog",
        "strategies_backtest",
    }
    assert set(_tables_holding(SECRET)) >= {
        "gamification_award",
        "observability_strategyexecutionlog",
    }

    response = api.delete(f"/api/v1/players/{USER}")

    assert response.status_code == 204
    assert response.content == b""
    assert _tables_holding(USER) == {}
    assert _tables_holding(SECRET) == {}
    assert _redis_holding(leaderboard_redis, USER) == []
    erased = PlayerDataRequest.objects.get(kind="erase")
    tombstone = erased.player
    assert tombstone.external_user_id.startswith("erased:")
    assert erased.subject == tombstone.external_user_id
    assert erased.requested_by_key == world["key"]
    assert erased.rows == {
        "awards": 3,
        "task_stats": 2,
        "leaderboard_entries": 12,
        "webhook_messages": 3,
        "wallet": 1,
        "ledger_entries": 3,
        "award_reversals": 0,
        "badges": 0,
        "game_stats": 0,
        "backtest_mentions": 1,
        "execution_logs": 3,
        "execution_log_dead_letters": 1,
    }
    assert PlayerDataRequest.objects.get(kind="export").player == tombstone
    # The board answers the tombstone, from PostgreSQL and from the set built again.
    board = api.get("/api/v1/games/g1/leaderboard?around=bob").json()["entries"]
    assert [(e["externalUserId"], e["points"]) for e in board] == [
        (tombstone.external_user_id, 15.0),
        ("bob", 4.0),
    ]
    members = leaderboard_redis.zrange(
        next(k for k in leaderboard_redis.scan_iter() if k.endswith(b":g:all:0001-01-01")), 0, -1
    )
    assert sorted(members) == sorted(
        [tombstone.external_user_id.encode(), b"bob", EMPTY_MEMBER.encode()]
    )
    # What stays: the points and the runs' outcomes, with nothing of the events.
    awards = Award.objects.filter(player=tombstone)
    assert sorted(awards.values_list("points", flat=True)) == [3, 5, 7]
    assert all(
        (a.data, a.callback_data, a.response_body, a.idempotency_key) == ({}, {}, None, None)
        for a in awards
    )
    logs = StrategyExecutionLog.objects.filter(external_user_id=tombstone.external_user_id)
    assert logs.count() == 3
    for log in logs:
        assert (log.data, log.fields, log.analytics, log.trace) == ({}, {}, None, None)
        assert (log.parent_data, log.correlation_id) == (None, None)
    assert sorted(logs.values_list("points", flat=True)) == [3, 5, 7]
    # The attempts keep what they were; only the excerpts of the player's messages go.
    assert WebhookAttempt.objects.count() == 4
    assert WebhookAttempt.objects.filter(status_code=400, latency_ms=3.0).count() == 4
    kept = WebhookAttempt.objects.exclude(response_excerpt="").get()
    assert '"externalUserId":"bob"' in kept.response_excerpt
    pending = WebhookMessage.objects.filter(status="pending")
    assert pending.count() == 4  # still sent, naming the tombstone
    assert {json.loads(m.body)["data"]["externalUserId"] for m in pending} == {
        tombstone.external_user_id,
        "bob",
    }


def test_erase_keeps_every_total_consistent(world):
    game, tasks = world["game"], world["tasks"]
    before = {
        task.pk: (stats.award_count, stats.points_total)
        for task in tasks
        for stats in [TaskStats.objects.get(task=task)]
    }

    assert world["api"].delete(f"/api/v1/players/{USER}").status_code == 204

    tombstone = Player.objects.get(external_user_id__startswith="erased:")
    for task in tasks:
        stats = TaskStats.objects.get(task=task)
        awards = Award.objects.filter(task=task)
        assert (stats.award_count, stats.points_total) == before[task.pk]
        assert (stats.award_count, stats.points_total) == (
            awards.count(),
            sum(awards.values_list("points", flat=True)),
        )
    for stats in PlayerTaskStats.objects.filter(task__in=tasks):
        awards = Award.objects.filter(player_id=stats.player_id, task_id=stats.task_id)
        assert (stats.award_count, stats.points_total) == (
            awards.count(),
            sum(awards.values_list("points", flat=True)),
        )
    assert PlayerTaskStats.objects.filter(player=tombstone).count() == 2
    assert stored_boards(game) == boards_from_awards(game)
    assert not LeaderboardEntry.objects.exclude(
        external_user_id__in=[tombstone.external_user_id, "bob"]
    ).exists()


def test_a_later_award_for_the_erased_id_creates_a_new_player(world):
    api = world["api"]
    assert api.delete(f"/api/v1/players/{USER}").status_code == 204

    again = world["award"](api, "t1", USER, 2, HTTP_IDEMPOTENCY_KEY=f"{USER}-attempt-1")

    assert again["playerCreated"] is True
    player = Player.objects.get(realm=world["realm"], external_user_id=USER)
    assert list(player.awards.values_list("points", flat=True)) == [2.0]
    _, body = _export(api)
    assert [a["points"] for a in body["awards"]] == [2.0]
    assert [s["pointsTotal"] for s in body["taskStats"]] == [2.0]


def test_another_realms_player_is_not_found_and_left_alone(world):
    rival_api = world["rival_api"]
    response = rival_api.post(
        "/api/v1/games/g1/tasks/t1/points",
        {"externalUserId": USER, "data": {"points": 9, "email": SECRET}},
        format="json",
    )
    assert response.status_code == 201
    rival_player = Player.objects.get(realm=world["rival"], external_user_id=USER)

    bob = Player.objects.get(realm=world["realm"], external_user_id="bob")
    for response in (
        rival_api.get("/api/v1/players/bob/export"),
        rival_api.delete("/api/v1/players/bob"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "PLAYER_NOT_FOUND")
    assert Player.objects.filter(pk=bob.pk, external_user_id="bob").exists()

    assert world["api"].delete(f"/api/v1/players/{USER}").status_code == 204

    for response in (
        world["api"].get(f"/api/v1/players/{USER}/export"),
        world["api"].delete(f"/api/v1/players/{USER}"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "PLAYER_NOT_FOUND")
    _, body = _export(rival_api)
    assert [a["data"] for a in body["awards"]] == [{"points": 9, "email": SECRET}]
    rival_player.refresh_from_db()
    assert rival_player.external_user_id == USER
    assert Award.objects.get(player=rival_player).data == {"points": 9, "email": SECRET}
    # The rival erases its own; realm A's tombstone stays as it was.
    assert rival_api.delete(f"/api/v1/players/{USER}").status_code == 204
    assert rival_api.delete(f"/api/v1/players/{USER}").json()["code"] == "PLAYER_NOT_FOUND"
    assert Player.objects.filter(realm=world["realm"], external_user_id__startswith="erased:")
    assert PlayerDataRequest.objects.filter(realm=world["rival"]).count() == 2
    assert PlayerDataRequest.objects.filter(realm=world["realm"], kind="erase").count() == 1


def test_unknown_player_and_unauthenticated_requests(world):
    response = world["api"].get("/api/v1/players/nobody/export")
    assert (response.status_code, response.json()["code"]) == (404, "PLAYER_NOT_FOUND")
    response = world["api"].delete("/api/v1/players/nobody")
    assert (response.status_code, response.json()["code"]) == (404, "PLAYER_NOT_FOUND")
    assert APIClient().delete(f"/api/v1/players/{USER}").status_code == 401
    assert APIClient().get(f"/api/v1/players/{USER}/export").status_code == 401
    assert not PlayerDataRequest.objects.exists()
    assert Player.objects.filter(external_user_id=USER).exists()


def test_audit_records_are_in_the_admin_for_the_realms_operators_only(world):
    api = world["api"]
    _export(api)
    assert api.delete(f"/api/v1/players/{USER}").status_code == 204
    erased = PlayerDataRequest.objects.get(kind="erase")
    operator = member_client("ops", world["realm"], "operator")
    rival_operator = member_client("rival-ops", world["rival"], "operator")
    url = "/admin/gamification/playerdatarequest/"

    listing = operator.get(url)
    assert listing.status_code == 200
    assert erased.subject.encode() in operator.get(f"{url}{erased.pk}/change/").content
    assert USER.encode() not in listing.content
    assert rival_operator.get(f"{url}{erased.pk}/change/").status_code == 404
    assert erased.subject.encode() not in rival_operator.get(url).content
    assert operator.post(f"{url}{erased.pk}/delete/").status_code == 403
    assert PlayerDataRequest.objects.count() == 2


def test_task_and_bob_are_untouched_by_the_erasure(world):
    bob = Player.objects.get(realm=world["realm"], external_user_id="bob")
    bob_award = Award.objects.get(player=bob)

    assert world["api"].delete(f"/api/v1/players/{USER}").status_code == 204

    bob_award.refresh_from_db()
    assert bob_award.data == {"points": 4, "email": "bob@example.org"}
    assert Task.objects.filter(game=world["game"]).count() == 2
    assert LeaderboardEntry.objects.filter(player=bob).count() == 8


def test_a_run_logged_after_the_erasure_is_scrubbed_on_arrival(world):
    """Rows still queued when the player is erased reach the worker later."""
    queued = list(world["logs"])
    world["logs"].clear()
    assert world["api"].delete(f"/api/v1/players/{USER}").status_code == 204
    world["award"](world["api"], "t1", USER, 6)  # a new player of the same id, after it
    after = list(world["logs"])

    execution_logs_persist(rows=queued + after)

    tombstone = Player.objects.get(external_user_id__startswith="erased:").external_user_id
    logs = StrategyExecutionLog.objects.filter(realm=world["realm"])
    assert sorted(logs.values_list("external_user_id", flat=True)) == sorted(
        [tombstone] * 3 + ["bob", USER]
    )
    assert all(
        log.data == {} and log.trace is None for log in logs.filter(external_user_id=tombstone)
    )
    assert logs.get(external_user_id=USER).data == {"points": 6, "email": SECRET}
    assert ExecutionLogDeadLetter.objects.count() == 0


def test_erase_moves_the_wallet_ledger_reversals_badges_and_streaks_to_the_tombstone(world):
    """What the player holds beyond awards stays counted on the tombstone, with nothing that
    names the player: the conversion's stored answer and key, the reversal's and the badge's
    deliveries."""
    realm, api = world["realm"], world["api"]
    Realm.objects.filter(pk=realm.pk).update(conversion_rate=5)
    WebhookEndpoint.objects.create(
        realm=realm,
        url="https://hooks.example/more",
        events=["award.reversed", "badge.earned", "level.reached"],
        secret="whsec_y",
    )
    levels = [
        {"level": 1, "name": "Rookie", "minPoints": 0},
        {"level": 2, "name": "Pro", "minPoints": 20},
    ]
    assert (
        api.put(
            "/api/v1/games/g1/levels", {"levels": levels, "streakPeriod": "day"}, format="json"
        ).status_code
        == 200
    )
    condition = {
        "type": "compare",
        "op": ">=",
        "left": {"type": "field", "path": "player.awards"},
        "right": {"type": "literal", "value": 4},
    }
    assert (
        api.post(
            "/api/v1/games/g1/badges",
            {"badgeId": "fourth", "name": "Four", "condition": condition},
            format="json",
        ).status_code
        == 201
    )
    earned = world["award"](api, "t2", USER, 10)
    assert (earned["badgesEarned"], earned["level"]["level"]) == (["fourth"], 2)
    converted = api.post(
        f"/api/v1/players/{USER}/wallet/convert",
        {"points": 10},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"{USER}-shop-1",
    )
    assert converted.status_code == 201, converted.content
    first = Award.objects.filter(player__external_user_id=USER).order_by("created_at").first()
    reversed_ = api.post(f"/api/v1/awards/{first.pk}/reverse", {"reason": "test"}, format="json")
    assert reversed_.status_code == 201, reversed_.content
    _persist_logs(world)
    _, exported = _export(api)
    assert exported["wallet"] == [
        {"pointsBalance": 10.0, "coinsBalance": 2, "updatedAt": exported["wallet"][0]["updatedAt"]}
    ]
    assert sorted(e["kind"] for e in exported["ledgerEntries"]) == [
        "award",
        "award",
        "award",
        "award",
        "conversion",
        "reversal",
    ]
    assert [r["points"] for r in exported["awardReversals"]] == [-5.0]
    assert [b["badgeId"] for b in exported["badges"]] == ["fourth"]
    assert exported["gameStats"][0]["currentStreak"] == 1

    assert api.delete(f"/api/v1/players/{USER}").status_code == 204

    assert _tables_holding(USER) == {}
    assert _tables_holding(SECRET) == {}
    tombstone = PlayerDataRequest.objects.get(kind="erase").player
    wallet = tombstone.wallet
    assert (wallet.points_balance, wallet.coins_balance) == (10, 2)
    ledger = LedgerEntry.objects.filter(player=tombstone)
    assert sum(e.points for e in ledger) == wallet.points_balance
    assert sum(e.coins for e in ledger) == wallet.coins_balance
    assert all((e.idempotency_key, e.response_body) == (None, None) for e in ledger)
    assert AwardReversal.objects.get().player == tombstone
    assert PlayerBadge.objects.get().player == tombstone
    assert PlayerGameStats.objects.get().player == tombstone
    profile = api.get(f"/api/v1/games/g1/players/{tombstone.external_user_id}").json()
    assert (profile["points"], [b["badgeId"] for b in profile["badges"]]) == (20.0, ["fourth"])
    # The erased id has no wallet any more.
    assert api.get(f"/api/v1/players/{USER}/wallet").status_code == 404
