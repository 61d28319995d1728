"""Batch awards: each event scored and stored exactly as the single endpoint would, on its own."""

from __future__ import annotations

import json
import random
import threading
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from gamification.achievements.definitions import achievements_forget
from gamification.achievements.services import game_levels_set
from gamification.leaderboards.periods import LeaderboardPeriod
from gamification.models import (
    Award,
    Game,
    LeaderboardEntry,
    LedgerEntry,
    Player,
    PlayerTaskStats,
    Realm,
    Task,
    TaskStats,
    TaskStatus,
    Wallet,
)
from gamification.services import api_key_create
from scoring import hooks
from strategies import services as strategy_services
from tests.database_helpers import other_connection
from tests.factories import GameFactory, RealmFactory, TaskFactory, strategy_program_ratio
from tests.gamification.concurrency_helpers import guarded, run_threads
from tests.gamification.leaderboard_helpers import boards_from_awards, stored_boards
from tests.scoring.test_award_service import RecordingObserver
from tests.strategies.backtest_programs import COUNTS_PROGRAM, assign, field

pytestmark = pytest.mark.django_db(transaction=True)

#: Fields that differ between any two awards, whoever stores them.
UNIQUE_PER_AWARD = ("awardId", "createdAt")


def _realm_with_game(slug: str) -> APIClient:
    """A realm with game g1: tasks t1 (default), t2 (constant_effort), ratio (a custom
    strategy that fails on a zero divisor) and closed; and a client with a key of it."""
    realm = RealmFactory(slug=slug)
    game = GameFactory(realm=realm, external_game_id="g1")
    TaskFactory(game=game, external_task_id="t1", strategy_id="default")
    TaskFactory(game=game, external_task_id="t2", strategy_id="constant_effort")
    TaskFactory(game=game, external_task_id="closed", status=TaskStatus.CLOSED)
    ratio = strategy_services.strategy_create(
        realm=realm, name="ratio", type="DSL_FULL", ast_json=strategy_program_ratio()
    )
    strategy_services.strategy_publish(strategy=ratio)
    TaskFactory(game=game, external_task_id="ratio", strategy_id=f"custom:{ratio.pk}")
    _, raw = api_key_create(realm=realm, name="server")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


EVENTS: list[dict[str, Any]] = [
    {"externalTaskId": "t1", "externalUserId": "alice", "data": {"minutes": 45}},
    {"externalTaskId": "t1", "externalUserId": "alice", "data": {"minutes": 10}},
    {"externalTaskId": "t2", "externalUserId": "bob", "data": {}, "idempotencyKey": "k-1"},
    {"externalTaskId": "ratio", "externalUserId": "carol", "data": {"divisor": 0}},
    {"externalTaskId": "nope", "externalUserId": "alice"},
    {"externalTaskId": "t1", "data": {}},
    {"externalTaskId": "closed", "externalUserId": "alice"},
    {"externalTaskId": "t2", "externalUserId": "bob", "data": {}, "idempotencyKey": "k-1"},
    {"externalTaskId": "t1", "externalUserId": "dave", "dryRun": True},
    {"externalTaskId": "t1", "externalUserId": "alice", "data": {"x": "y" * 70_000}},
    {"externalTaskId": "ratio", "externalUserId": "carol", "data": {"divisor": 4}},
    {"externalTaskId": "t2", "externalUserId": "erin", "idempotencyKey": "k" * 256},
    {"externalTaskId": "t1", "externalUserId": "bob", "data": {"minutes": 60}},
]


def _single(client: APIClient, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {}
    if "idempotencyKey" in event:
        headers["HTTP_IDEMPOTENCY_KEY"] = event["idempotencyKey"]
    document = {key: event[key] for key in ("externalUserId", "data", "dryRun") if key in event}
    response = client.post(
        f"/api/v1/games/g1/tasks/{event['externalTaskId']}/points",
        document,
        format="json",
        **headers,
    )
    return response.status_code, response.json()


def _batch(client: APIClient, events: list[Any], game: str = "g1"):
    return client.post(f"/api/v1/games/{game}/points/batch", {"events": events}, format="json")


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    """The body without what differs between realms: the award's id and time, and the id of
    the realm's own custom strategy."""
    comparable = {key: value for key, value in body.items() if key not in UNIQUE_PER_AWARD}
    if str(comparable.get("strategyId", "")).startswith("custom:"):
        comparable["strategyId"] = "custom:ratio"
    return comparable


def test_each_result_is_what_the_single_endpoint_answers_for_that_event():
    single_client = _realm_with_game("single")
    batch_client = _realm_with_game("batch")
    singles = [_single(single_client, event) for event in EVENTS]

    response = _batch(batch_client, EVENTS)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [result["index"] for result in results] == list(range(len(EVENTS)))
    assert [result["status"] for result in results] == [status for status, _ in singles]
    # The one difference: a key too long is named by the field it came in, not by the header.
    header_error = singles[11][1]["errors"].pop("Idempotency-Key")
    assert results[11]["body"]["errors"].pop("idempotencyKey") != header_error
    assert [_comparable(result["body"]) for result in results] == [
        _comparable(body) for _, body in singles
    ]
    assert [status for status, _ in singles] == [
        201, 201, 201, 422, 404, 400, 409, 200, 200, 413, 201, 400, 201,
    ]  # fmt: skip
    # The replay answers the first award's own id and time, in the batch as in single calls.
    assert results[7]["body"] == results[2]["body"]


def test_the_batch_stores_what_the_single_calls_store():
    single_client = _realm_with_game("single")
    batch_client = _realm_with_game("batch")
    for event in EVENTS:
        _single(single_client, event)

    _batch(batch_client, EVENTS)

    def stored(slug: str) -> list[tuple]:
        return list(
            Award.objects.filter(realm__slug=slug)
            .order_by("created_at", "id")
            .values_list("task__external_task_id", "player__external_user_id", "points")
        )

    def stats(slug: str) -> list[tuple]:
        return list(
            PlayerTaskStats.objects.filter(task__game__realm__slug=slug)
            .order_by("task__external_task_id", "player__external_user_id")
            .values_list(
                "task__external_task_id", "player__external_user_id", "award_count", "points_total"
            )
        )

    assert stored("batch") == stored("single")
    assert len(stored("batch")) == 5
    assert stats("batch") == stats("single")


def test_sending_a_batch_again_replays_the_events_with_a_key_and_scores_the_others():
    client = _realm_with_game("again")
    events = [
        {"externalTaskId": "t1", "externalUserId": "alice", "idempotencyKey": "a"},
        {"externalTaskId": "t1", "externalUserId": "alice"},
    ]
    first = _batch(client, events).json()["results"]

    second = _batch(client, events).json()["results"]

    assert [result["status"] for result in first] == [201, 201]
    assert [result["status"] for result in second] == [200, 201]
    assert second[0]["body"] == first[0]["body"]
    assert Award.objects.filter(realm__slug="again").count() == 3


@pytest.mark.parametrize(
    "document",
    [
        [],
        {},
        {"events": {}},
        {"events": []},
        {"events": [{"externalTaskId": "t1", "externalUserId": "u"}] * 1001},
        "events",
    ],
    ids=["list", "no-events", "events-object", "no-event", "over-1000", "string"],
)
def test_a_document_that_is_not_a_batch_is_a_400_and_scores_nothing(document):
    client = _realm_with_game("shape")

    response = client.post("/api/v1/games/g1/points/batch", document, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert "events" in response.json()["errors"]
    assert not Award.objects.exists()


def test_an_event_that_is_not_an_object_is_its_own_400():
    client = _realm_with_game("items")

    response = _batch(
        client,
        [
            "alice",
            {"externalTaskId": "", "externalUserId": "u"},
            {"externalTaskId": "t1", "externalUserId": "u", "idempotencyKey": ["a"]},
            {"externalTaskId": "t1", "externalUserId": "u"},
        ],
    )

    results = response.json()["results"]
    assert [result["status"] for result in results] == [400, 400, 400, 201]
    assert set(results[1]["body"]["errors"]) == {"externalTaskId"}
    assert set(results[2]["body"]["errors"]) == {"idempotencyKey"}


def test_a_nul_anywhere_in_the_batch_refuses_it_whole_with_a_pointer():
    client = _realm_with_game("nul")

    response = _batch(
        client,
        [
            {"externalTaskId": "t1", "externalUserId": "u"},
            {"externalTaskId": "t1", "externalUserId": "u", "data": {"k": "a\x00b"}},
        ],
    )

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_STRING"
    assert response.json()["pointer"] == "/events/1/data/k"
    assert not Award.objects.exists()


def test_another_realms_game_is_one_404_for_the_batch_and_nothing_is_written():
    owner = _realm_with_game("owner")
    owner.post("/api/v1/games", {"externalGameId": "g2"}, format="json")
    intruder = _realm_with_game("intruder")

    response = _batch(intruder, [{"externalTaskId": "t1", "externalUserId": "u"}], game="g2")

    assert response.status_code == 404
    assert response.json() == {"code": "GAME_NOT_FOUND", "detail": "No game 'g2'."}
    assert not Award.objects.exists()


def test_a_long_missing_game_id_is_answered_once_not_once_per_event(
    django_assert_max_num_queries,
):
    """Each event's 404 would repeat the URL's game id: 1,000 events of 50 bytes and a game
    id of 4 KB would answer 4 MB, after two reads per event."""
    client = _realm_with_game("amplified")
    events = [{"externalTaskId": "t1", "externalUserId": f"u{n}"} for n in range(1000)]

    with django_assert_max_num_queries(3):
        response = _batch(client, events, game="g" * 4000)

    assert response.status_code == 404
    assert response.json()["code"] == "GAME_NOT_FOUND"
    assert len(response.content) < 4100


def test_a_batch_without_a_key_is_refused():
    response = APIClient().post(
        "/api/v1/games/g1/points/batch", {"events": [{"externalTaskId": "t1"}]}, format="json"
    )

    assert response.status_code in (401, 403)


def test_each_event_counts_against_the_keys_rate():
    realm = RealmFactory(slug="rated")
    TaskFactory(game=GameFactory(realm=realm, external_game_id="g1"), external_task_id="t1")
    _, raw = api_key_create(realm=realm, name="server", rate="5/day")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    event = {"externalTaskId": "t1", "externalUserId": "u"}

    assert _batch(client, [event] * 3).status_code == 200
    refused = _batch(client, [event] * 3)

    assert refused.status_code == 429
    assert refused.json()["code"] == "RATE_LIMITED"
    assert int(refused["Retry-After"]) >= 1
    assert Award.objects.count() == 3


#: How every award write of one award or of a set starts.
AWARD_WRITES = ("WITH inserted AS", "WITH new_player AS", "WITH src AS")


def _writes_ended_at(n: int):
    """An execute wrapper that ends this connection's backend just before its ``n``-th award
    write (of one award or of a set), from another connection: the database going away in
    the middle of a batch."""
    seen = {"writes": 0}

    def wrapper(execute, sql, params, many, context):
        if sql.startswith(AWARD_WRITES):
            seen["writes"] += 1
            if seen["writes"] == n:
                with other_connection() as other:
                    other.execute(
                        "SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid]
                    )
        return execute(sql, params, many, context)

    return wrapper


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ends a PostgreSQL backend")
@pytest.mark.parametrize(
    ("set_size", "ended_at_write", "stored"),
    [(1, 120, 119), (100, 2, 100), (40, 3, 80)],
    ids=["awards-stored-alone", "sets-of-100", "sets-of-40"],
)
def test_a_database_that_goes_away_mid_batch_keeps_what_was_committed_and_says_so(
    settings, set_size, ended_at_write, stored
):
    settings.AWARD_BATCH_SET_SIZE = set_size
    client = _realm_with_game("fault")
    events = [{"externalTaskId": "t1", "externalUserId": f"u{i}"} for i in range(150)]

    with connection.execute_wrapper(_writes_ended_at(ended_at_write)):
        response = _batch(client, events)

    assert response.status_code == 200
    statuses = [result["status"] for result in response.json()["results"]]
    assert statuses == [201] * stored + [503] * (150 - stored)
    assert response.json()["results"][stored]["body"]["code"] == "SERVICE_UNAVAILABLE"
    connection.close()
    assert Award.objects.filter(realm__slug="fault").count() == stored
    assert Player.objects.filter(realm__slug="fault").count() == stored
    assert TaskStats.objects.get(task__game__realm__slug="fault").award_count == stored


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ends a PostgreSQL backend")
def test_a_database_that_goes_away_at_the_first_event_is_a_503():
    client = _realm_with_game("early")
    events = [{"externalTaskId": "t1", "externalUserId": f"u{i}"} for i in range(20)]

    with connection.execute_wrapper(_writes_ended_at(1)):
        response = _batch(client, events)

    assert response.status_code == 503
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    connection.close()
    assert not Award.objects.filter(realm__slug="early").exists()


def test_the_schema_documents_the_batch():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/games/{external_game_id}/points/batch"]["post"]

    assert "200" in operation["responses"]
    assert json.dumps(operation["requestBody"]).count("AwardBatchRequest") >= 1


def test_events_left_when_the_time_budget_is_spent_answer_503_and_store_nothing(settings):
    settings.AWARD_BATCH_TIME_BUDGET_SECONDS = 0.05
    client = _realm_with_game("budget")
    events = [{"externalTaskId": "t1", "externalUserId": f"u{i}"} for i in range(200)]

    response = _batch(client, events)

    assert response.status_code == 200
    results = response.json()["results"]
    statuses = [result["status"] for result in results]
    scored = statuses.count(201)
    assert 1 <= scored < 200
    assert statuses == [201] * scored + [503] * (200 - scored)
    assert results[-1]["body"]["code"] == "BATCH_TIME_BUDGET_SPENT"
    assert Award.objects.filter(realm__slug="budget").count() == scored


def _realm_with_counts(slug: str) -> tuple[APIClient, str]:
    """A realm with game g1 and tasks counts and more, each scored by how many awards the
    task and the player have (``COUNTS_PROGRAM``: no time gaps, so that events sent at other
    instants score the same); a client with a key of it, and the key."""
    realm = RealmFactory(slug=slug)
    game = GameFactory(realm=realm, external_game_id="g1")
    counts = strategy_services.strategy_create(
        realm=realm, name="counts", type="DSL_FULL", ast_json=COUNTS_PROGRAM
    )
    strategy_services.strategy_publish(strategy=counts)
    for task in ("counts", "more"):
        TaskFactory(game=game, external_task_id=task, strategy_id=counts.strategy_id)
    _, raw = api_key_create(realm=realm, name="server")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client, raw


def _many_players_events(seed: int, n: int, players: int) -> list[dict[str, Any]]:
    """``n`` events of ``players`` players (some repeated close together) on both tasks, a
    few with a key: some sent again as they were, some reused for another event."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    keyed: list[dict[str, Any]] = []
    for i in range(n):
        if i % 25 == 24 and keyed:
            events.append(dict(rng.choice(keyed)))
            continue
        event: dict[str, Any] = {
            "externalTaskId": rng.choice(["counts", "more"]),
            "externalUserId": f"p{rng.randrange(players)}",
            "data": {"minutes": rng.randrange(1, 90)},
        }
        if i % 9 == 0:
            event["idempotencyKey"] = f"k{rng.randrange(6)}"
            keyed.append(event)
        events.append(event)
    return events


def _stored_totals(slug: str) -> dict[str, Any]:
    """What a realm's awards left behind, named by external ids: awards in order, both stats
    rows, the all-time board entries, and the wallets (each checked against its ledger)."""
    realm = Realm.objects.get(slug=slug)
    wallets = dict(
        Wallet.objects.filter(realm=realm).values_list("player__external_user_id", "points_balance")
    )
    ledgers = dict(
        LedgerEntry.objects.filter(realm=realm)
        .values("player__external_user_id")
        .annotate(points=Sum("points"))
        .values_list("player__external_user_id", "points")
    )
    assert wallets == ledgers
    game = realm.games.get()
    assert stored_boards(game) == boards_from_awards(game)
    return {
        "awards": list(
            Award.objects.filter(realm=realm)
            .order_by("created_at", "id")
            .values_list("task__external_task_id", "player__external_user_id", "points")
        ),
        "player_stats": sorted(
            PlayerTaskStats.objects.filter(task__game=game).values_list(
                "task__external_task_id", "player__external_user_id", "award_count", "points_total"
            )
        ),
        "task_stats": sorted(
            TaskStats.objects.filter(task__game=game).values_list(
                "task__external_task_id", "award_count", "points_total"
            )
        ),
        "boards": sorted(
            LeaderboardEntry.objects.filter(game=game, period=LeaderboardPeriod.ALL).values_list(
                "task__external_task_id", "external_user_id", "points", "awards"
            ),
            key=str,
        ),
        "wallets": wallets,
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sets are PostgreSQL's write")
def test_a_batch_of_many_players_scores_and_stores_each_event_as_single_calls_do():
    """Each event's points count its task's awards before it, those of the same batch too:
    sets of awards stored together must be read as if stored one by one."""
    single_client, _ = _realm_with_counts("single")
    batch_client, _ = _realm_with_counts("batch")
    earlier = [
        {"externalTaskId": "counts", "externalUserId": f"p{n}", "data": {}} for n in range(10)
    ]
    for client in (single_client, batch_client):
        assert all(_single(client, event)[0] == 201 for event in earlier)
    events = _many_players_events(seed=3, n=300, players=40)
    singles = [_single(single_client, event) for event in events]

    with CaptureQueriesContext(connection) as queries:
        response = _batch(batch_client, events)

    results = response.json()["results"]
    assert [result["status"] for result in results] == [status for status, _ in singles]
    assert [_comparable(result["body"]) for result in results] == [
        _comparable(body) for _, body in singles
    ]
    assert {status for status, _ in singles} == {200, 201, 409}
    assert _stored_totals("batch") == _stored_totals("single")
    set_writes = [q for q in queries.captured_queries if q["sql"].startswith("WITH src AS")]
    all_writes = [q for q in queries.captured_queries if q["sql"].startswith(AWARD_WRITES)]
    assert 5 <= len(set_writes) <= len(all_writes) < len(events) / 5


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sets are PostgreSQL's write")
def test_a_set_of_distinct_players_is_one_read_per_event_and_one_write():
    client, _ = _realm_with_counts("lean")
    for n in range(0, 60, 2):
        _single(client, {"externalTaskId": "counts", "externalUserId": f"p{n}", "data": {}})
    events = [
        {"externalTaskId": "counts", "externalUserId": f"p{n}", "data": {}} for n in range(60)
    ]
    _batch(client, events[:1])  # the key, realm and game are read once per batch

    with CaptureQueriesContext(connection) as queries:
        response = _batch(client, events[1:])

    assert [result["status"] for result in response.json()["results"]] == [201] * 59
    statements = [query["sql"] for query in queries.captured_queries]
    assert sum(sql.startswith(AWARD_WRITES) for sql in statements) == 1
    assert len(statements) <= 59 + 4, statements[:6]
    points = [result["body"]["points"] for result in response.json()["results"]]
    # p1 comes second of the batch's events and first on its own: 31 task awards before it.
    assert points[:2] == [3100 + 0 + 0, 3200 + 10 + 1]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sets are PostgreSQL's write")
def test_a_player_another_request_creates_meanwhile_gets_its_award_all_the_same():
    client, _ = _realm_with_counts("meanwhile")
    realm = Realm.objects.get(slug="meanwhile")
    events = [{"externalTaskId": "counts", "externalUserId": f"new-{n}"} for n in range(5)]
    created: list[int] = []

    def player_created_first(execute, sql, params, many, context):
        if sql.startswith("WITH src AS") and not created:
            with other_connection() as other:
                row = other.execute(
                    f"INSERT INTO {Player._meta.db_table} (realm_id, external_user_id, created_at)"
                    " VALUES (%s, 'new-2', now()) RETURNING id",
                    [realm.pk],
                ).fetchone()
            created.append(row[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(player_created_first):
        response = _batch(client, events)

    results = response.json()["results"]
    assert [result["status"] for result in results] == [201] * 5
    assert [result["body"]["playerCreated"] for result in results] == [
        True, True, False, True, True,
    ]  # fmt: skip
    assert [result["body"]["points"] for result in results] == [0, 100, 200, 300, 400]
    assert Award.objects.get(player__external_user_id="new-2").player_id == created[0]
    assert Player.objects.filter(realm=realm).count() == 5
    assert (
        TaskStats.objects.get(task__game__realm=realm, task__external_task_id="counts").award_count
        == 5
    )
    _stored_totals("meanwhile")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sets are PostgreSQL's write")
def test_overlapping_batches_and_single_awards_at_once_add_up_without_a_deadlock():
    _, raw = _realm_with_counts("overlap")
    errors: list[BaseException] = []
    statuses: list[int] = []

    def batches(seed: int) -> None:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=raw)
        for round_ in range(4):
            events = _many_players_events(seed=seed * 10 + round_, n=100, players=50)
            for event in events:
                event.pop("idempotencyKey", None)
            response = _batch(client, events)
            assert response.status_code == 200, response.content
            statuses.extend(result["status"] for result in response.json()["results"])

    def singles() -> None:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=raw)
        for event in _many_players_events(seed=99, n=100, players=50):
            event.pop("idempotencyKey", None)
            statuses.append(_single(client, event)[0])

    threads = [
        threading.Thread(target=guarded, args=(lambda s=s: batches(s), errors)) for s in range(4)
    ]
    threads.append(threading.Thread(target=guarded, args=(singles, errors)))
    run_threads(threads)

    assert errors == []
    assert statuses == [201] * 1700
    totals = _stored_totals("overlap")
    assert len(totals["awards"]) == 1700
    per_task = {task: count for task, count, _ in totals["task_stats"]}
    assert sum(per_task.values()) == 1700
    for task, count in per_task.items():
        assert count == sum(1 for award in totals["awards"] if award[0] == task)
    player_counts = {(task, user): count for task, user, count, _ in totals["player_stats"]}
    for (task, user), count in player_counts.items():
        assert count == sum(1 for award in totals["awards"] if award[:2] == (task, user))


def _deadlock_at_write(*ns: int):
    """An execute wrapper under which this connection's award writes (of one award or of a
    set) numbered ``ns`` fail as PostgreSQL fails the loser of a deadlock, writing nothing."""
    seen = {"writes": 0}

    def wrapper(execute, sql, params, many, context):
        if sql.startswith(AWARD_WRITES):
            seen["writes"] += 1
            if seen["writes"] in ns:
                try:
                    raise psycopg.errors.DeadlockDetected("deadlock detected")
                except psycopg.errors.DeadlockDetected as cause:
                    raise OperationalError("deadlock detected") from cause
        return execute(sql, params, many, context)

    return wrapper


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL deadlock")
def test_a_deadlock_is_the_events_own_503_and_the_batch_goes_on(settings):
    settings.AWARD_BATCH_SET_SIZE = 1
    client = _realm_with_game("deadlock")
    events = [{"externalTaskId": "t1", "externalUserId": f"u{i}"} for i in range(6)]

    with connection.execute_wrapper(_deadlock_at_write(3)):
        response = _batch(client, events)
    with connection.execute_wrapper(_deadlock_at_write(1)):
        single = _single(client, {"externalTaskId": "t1", "externalUserId": "alone"})

    results = response.json()["results"]
    assert [result["status"] for result in results] == [201, 201, 503, 201, 201, 201]
    assert results[2]["body"] == single[1]
    assert single == (
        503,
        {
            "code": "SERVICE_UNAVAILABLE",
            "detail": "The request conflicted with a concurrent one and was rolled back; "
            "send it again.",
        },
    )
    assert not Award.objects.filter(player__external_user_id__in=["u2", "alone"]).exists()
    assert TaskStats.objects.get(task__game__realm__slug="deadlock").award_count == 5


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sets are PostgreSQL's write")
def test_a_set_write_that_loses_a_deadlock_stores_its_awards_one_by_one():
    client, _ = _realm_with_counts("set-deadlock")
    events = [{"externalTaskId": "counts", "externalUserId": f"u{i}"} for i in range(6)]

    with (
        connection.execute_wrapper(_deadlock_at_write(1)),
        CaptureQueriesContext(connection) as queries,
    ):
        response = _batch(client, events)

    results = response.json()["results"]
    assert [result["status"] for result in results] == [201] * 6
    assert [result["body"]["points"] for result in results] == [0, 100, 200, 300, 400, 500]
    writes = [q["sql"][:16] for q in queries.captured_queries if q["sql"].startswith(AWARD_WRITES)]
    assert writes == ["WITH src AS (SEL"] + ["WITH new_player "] * 6
    _stored_totals("set-deadlock")


#: Awards ``data.p`` points.
DATA_POINTS_PROGRAM = {"type": "program", "rules": [], "default": assign(field("data.p"), "Data")}


def _realm_with_data_points(slug: str) -> APIClient:
    """A realm with game g1 and task t1 scored ``data.p``; a client with a key of it."""
    realm = RealmFactory(slug=slug)
    game = GameFactory(realm=realm, external_game_id="g1")
    strategy = strategy_services.strategy_create(
        realm=realm, name="data", type="DSL_FULL", ast_json=DATA_POINTS_PROGRAM
    )
    strategy_services.strategy_publish(strategy=strategy)
    TaskFactory(game=game, external_task_id="t1", strategy_id=strategy.strategy_id)
    _, raw = api_key_create(realm=realm, name="server")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sets are PostgreSQL's write")
def test_a_sets_float_points_add_up_to_the_task_total_single_calls_leave():
    """Float addition is not associative: 0.1 + (0.2 + 0.3) is not (0.1 + 0.2) + 0.3."""
    single, batch = _realm_with_data_points("single"), _realm_with_data_points("batch")
    points = [0.2, 0.3]
    for client in (single, batch):
        assert _single(client, {"externalTaskId": "t1", "externalUserId": "p0", "data": {"p": 0.1}})
    events = [
        {"externalTaskId": "t1", "externalUserId": f"p{n}", "data": {"p": p}}
        for n, p in enumerate(points, start=1)
    ]
    fresh = _realm_with_data_points("fresh")  # the task's first awards come in a set
    fresh_single = _realm_with_data_points("fresh-single")

    assert [_single(single, event)[0] for event in events] == [201] * len(points)
    assert [_single(fresh_single, event)[0] for event in events] == [201] * len(points)
    for client in (batch, fresh):
        response = _batch(client, events)
        assert [result["status"] for result in response.json()["results"]] == [201] * len(points)

    def total(slug: str) -> float:
        return TaskStats.objects.get(task__game__realm__slug=slug).points_total

    assert total("batch") == total("single")
    assert total("fresh") == total("fresh-single")
    assert total("single") == (0.1 + 0.2) + 0.3 != 0.1 + (0.2 + 0.3)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sets are PostgreSQL's write")
def test_awards_scored_after_one_that_was_not_stored_are_scored_again():
    """a, b and c were scored as a set, each counting the ones before it; the set's write and
    then a's own lose a deadlock: b and c count a no more, as their own requests would."""
    client, _ = _realm_with_counts("rescored")
    events = [{"externalTaskId": "counts", "externalUserId": user} for user in "abc"]

    with connection.execute_wrapper(_deadlock_at_write(1, 2)):
        response = _batch(client, events)

    results = response.json()["results"]
    assert [result["status"] for result in results] == [503, 201, 201]
    assert [result["body"]["points"] for result in results[1:]] == [0, 100]
    assert _stored_totals("rescored")["task_stats"] == [("counts", 2, 100.0)]


def _streak_game(slug: str) -> APIClient:
    """``_realm_with_counts`` with daily streaks, and players a and b with an award today on
    counts: their next awards join sets, a new player's (a streak row) is written alone."""
    client, _ = _realm_with_counts(slug)
    game = Game.objects.get(realm__slug=slug)
    game_levels_set(game=game, api_key=None, levels=[], streak_period="day")
    for user in "ab":
        assert _single(client, {"externalTaskId": "counts", "externalUserId": user})[0] == 201
    return client


@pytest.fixture
def definitions_forgotten():
    """The process's copies of the games' definitions (levels, streaks) start and end empty."""
    achievements_forget()
    yield
    achievements_forget()


#: Two awards that join a set, then one written alone after it (a new player's streak).
SET_THEN_ALONE = [
    {"externalTaskId": "counts", "externalUserId": "a"},
    {"externalTaskId": "counts", "externalUserId": "b"},
    {"externalTaskId": "counts", "externalUserId": "x"},
    {"externalTaskId": "counts", "externalUserId": "y"},
]


@pytest.mark.usefixtures("definitions_forgotten")
@pytest.mark.skipif(connection.vendor != "postgresql", reason="sets are PostgreSQL's write")
def test_an_award_written_alone_after_a_set_that_was_not_stored_is_scored_again():
    client = _streak_game("alone-after")

    with connection.execute_wrapper(_deadlock_at_write(1, 2)):
        response = _batch(client, SET_THEN_ALONE)

    results = response.json()["results"]
    assert [result["status"] for result in results] == [503, 201, 201, 201]
    # b after the two earlier awards; x and y after b, without a.
    assert [result["body"]["points"] for result in results[1:]] == [211, 300, 400]
    assert _stored_totals("alone-after")["task_stats"] == [("counts", 5, 1011.0)]


def _statement_timeout_at_the_set(client: APIClient, events: list[dict[str, Any]]):
    """Send ``events`` with the stats row of task counts held by another connection from the
    first set write on, and a statement timeout on this one: the set's write is cancelled
    (the database does not answer in time), the connection stays usable, and a write on
    task more would succeed."""
    locked: list[bool] = []
    with other_connection() as other:

        def hold_at_the_set(execute, sql, params, many, context):
            if sql.startswith("WITH src AS") and not locked:
                other.execute("BEGIN")
                other.execute(
                    f"SELECT 1 FROM {TaskStats._meta.db_table} ts "
                    f"JOIN {Task._meta.db_table} t ON t.id = ts.task_id "
                    "WHERE t.external_task_id = 'counts' FOR UPDATE OF ts"
                )
                locked.append(True)
            return execute(sql, params, many, context)

        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = '300ms'")
        try:
            with connection.execute_wrapper(hold_at_the_set):
                response = _batch(client, events)
        finally:
            if locked:
                other.execute("ROLLBACK")
            with connection.cursor() as cursor:
                cursor.execute("RESET statement_timeout")
    assert locked
    return response


@pytest.mark.usefixtures("definitions_forgotten")
@pytest.mark.skipif(connection.vendor != "postgresql", reason="sets are PostgreSQL's write")
def test_no_award_is_stored_after_the_database_failed_the_batch():
    client = _streak_game("gone")
    dry_run = {"externalTaskId": "counts", "externalUserId": "z", "dryRun": True}
    events = [*SET_THEN_ALONE[:2], *({**e, "externalTaskId": "more"} for e in SET_THEN_ALONE[2:])]

    whole = _statement_timeout_at_the_set(client, events)
    after_a_dry_run = _statement_timeout_at_the_set(client, [dry_run, *events])

    assert whole.status_code == 503
    results = after_a_dry_run.json()["results"]
    assert [result["status"] for result in results] == [200, 503, 503, 503, 503]
    assert not Award.objects.filter(player__external_user_id__in=["x", "y"]).exists()
    assert _stored_totals("gone")["task_stats"] == [("counts", 2, 100.0)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sets are PostgreSQL's write")
def test_a_set_its_write_would_leave_an_award_out_of_is_stored_award_by_award():
    """Between the batch's reads and its set write, another request creates player n and
    stores key K on another task: n's award fails alone (409), and c, scored counting it,
    is scored again, as its own request after n's would be."""
    client, _ = _realm_with_counts("skipped")
    events = [
        {"externalTaskId": "counts", "externalUserId": "a"},
        {"externalTaskId": "counts", "externalUserId": "n", "idempotencyKey": "K"},
        {"externalTaskId": "counts", "externalUserId": "c"},
    ]
    other: list[tuple[int, dict[str, Any]]] = []

    def meanwhile(execute, sql, params, many, context):
        if sql.startswith("WITH src AS") and not other:
            event = {"externalTaskId": "more", "externalUserId": "n", "idempotencyKey": "K"}
            thread = threading.Thread(
                target=guarded, args=(lambda: other.append(_single(client, event)), [])
            )
            thread.start()
            thread.join()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(meanwhile):
        results = _batch(client, events).json()["results"]

    assert other[0][0] == 201
    assert [result["status"] for result in results] == [201, 409, 201]
    assert results[1]["body"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert [results[0]["body"]["points"], results[2]["body"]["points"]] == [0, 100]
    assert _stored_totals("skipped")["task_stats"] == [("counts", 2, 100.0), ("more", 1, 0.0)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sets are PostgreSQL's write")
def test_an_event_scored_again_is_observed_once_under_its_stored_awards_id():
    client, _ = _realm_with_counts("observed")
    events = [{"externalTaskId": "counts", "externalUserId": user} for user in "abc"]
    recorder, previous = RecordingObserver(), hooks.run_observer()
    hooks.run_observer_register(recorder)
    try:
        with connection.execute_wrapper(_deadlock_at_write(1, 2)):
            results = _batch(client, events).json()["results"]
    finally:
        hooks.run_observer_register(previous)

    assert [result["status"] for result in results] == [503, 201, 201]
    stored = {
        str(pk) for pk in Award.objects.filter(realm__slug="observed").values_list("pk", flat=True)
    }
    observed = [kwargs["correlation_id"] for kwargs in recorder.observed]
    # One run per event, as three single requests (a's 503 included) would observe.
    assert len(observed) == 3
    assert set(observed[1:]) == stored
