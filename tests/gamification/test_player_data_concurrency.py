"""An erasure while awards for the same player arrive from other threads, on PostgreSQL:
every award either counted for the player before the erasure (and is scrubbed onto the
tombstone) or for a new player after it, or was refused whole (409 ``PLAYER_ERASED`` when the
player went between its read and its write, 503 when PostgreSQL broke a deadlock between the
two); totals stay consistent. A conversion or a reversal racing an erasure happens before it
or after it, never in a deadlock or a failed foreign key between."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import OperationalError, connection
from rest_framework.test import APIClient

from gamification.errors import NotFoundError
from gamification.models import (
    Award,
    AwardReversal,
    LeaderboardEntry,
    LedgerEntry,
    Player,
    PlayerTaskStats,
    TaskStats,
    Wallet,
)
from gamification.player_data.services import player_erase
from gamification.services import api_key_create
from gamification.wallet.services import wallet_adjust
from tests.factories import GameFactory, RealmFactory, TaskFactory
from tests.gamification.leaderboard_helpers import (
    boards_from_awards,
    points_strategy,
    stored_boards,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency of PostgreSQL"),
]

USER = "racer-51c2"
THREADS = 4
AWARDS_PER_THREAD = 40


def _erase_retrying():
    """Erase as a client of the API would: again after a 503 (a deadlock broken)."""
    for _ in range(5):
        try:
            return player_erase(realm=RealmFactory(slug="race"), external_user_id=USER)
        except OperationalError:
            time.sleep(0.1)
    raise AssertionError("the erasure lost five deadlocks in a row")


def test_awards_racing_an_erasure_leave_nothing_of_the_player_on_the_tombstone():
    realm = RealmFactory(slug="race")
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    task = TaskFactory(game=game, external_task_id="t1", strategy_id=strategy)
    _, raw = api_key_create(realm=realm, name="server")
    statuses: list[tuple[int, str | None]] = []
    lock = threading.Lock()
    started = threading.Barrier(THREADS + 1)

    def send() -> None:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=raw)
        started.wait()
        try:
            for n in range(AWARDS_PER_THREAD):
                response = client.post(
                    "/api/v1/games/g1/tasks/t1/points",
                    {"externalUserId": USER, "data": {"points": 1, "seq": n}},
                    format="json",
                )
                with lock:
                    statuses.append((response.status_code, response.json().get("code")))
        finally:
            connection.close()

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    assert (
        client.post(
            "/api/v1/games/g1/tasks/t1/points",
            {"externalUserId": USER, "data": {"points": 1}},
            format="json",
        ).status_code
        == 201
    )
    threads = [threading.Thread(target=send) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    started.wait()
    time.sleep(0.3)
    record = _erase_retrying()
    for thread in threads:
        thread.join()

    tombstone = record.player
    assert {status for status in statuses} <= {
        (201, None),
        (409, "PLAYER_ERASED"),
        (503, "SERVICE_UNAVAILABLE"),
    }
    created = sum(1 for status, _ in statuses if status == 201)
    assert Award.objects.filter(task=task).count() == created + 1
    erased = Award.objects.filter(player=tombstone)
    assert erased.exists()
    assert not erased.exclude(data={}).exists()
    assert not erased.exclude(response_body=None).exists()
    assert set(Player.objects.filter(realm=realm).values_list("external_user_id", flat=True)) <= {
        USER,
        tombstone.external_user_id,
    }
    assert set(
        LeaderboardEntry.objects.filter(player=tombstone).values_list("external_user_id", flat=True)
    ) == {tombstone.external_user_id}
    stats = TaskStats.objects.get(task=task)
    assert (stats.award_count, stats.points_total) == (created + 1, float(created + 1))
    for row in PlayerTaskStats.objects.filter(task=task):
        assert row.award_count == Award.objects.filter(player_id=row.player_id, task=task).count()
    assert stored_boards(game) == boards_from_awards(game)


def _race(
    *, rounds: int, prepare: Callable[[], Any], request: Callable[[Any], Any]
) -> list[tuple[int, str | None]]:
    """``rounds`` times: ``prepare`` the player USER, then run ``request`` (one API call,
    given what ``prepare`` answered) against an erasure of USER; answer every (status, code)
    the calls got."""
    statuses: list[tuple[int, str | None]] = []

    def call(go: threading.Barrier, prepared: Any) -> None:
        try:
            go.wait()
            response = request(prepared)
            statuses.append((response.status_code, response.json().get("code")))
        finally:
            connection.close()

    for _ in range(rounds):
        go = threading.Barrier(2)
        thread = threading.Thread(target=call, args=(go, prepare()))
        thread.start()
        go.wait()
        _erase_retrying()
        thread.join()
    return statuses


def _player_with_points(client: APIClient, points: int) -> str:
    response = client.post(
        "/api/v1/games/g1/tasks/t1/points",
        {"externalUserId": USER, "data": {"points": points}},
        format="json",
    )
    assert response.status_code == 201
    return response.json()["awardId"]


def test_a_conversion_racing_an_erasure_converts_before_it_or_finds_no_player():
    realm = RealmFactory(slug="race", conversion_rate=1)
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    TaskFactory(game=game, external_task_id="t1", strategy_id=strategy)
    _, raw = api_key_create(realm=realm, name="server")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)

    statuses = _race(
        rounds=20,
        prepare=lambda: _player_with_points(client, 5),
        request=lambda _award_id: client.post(
            f"/api/v1/players/{USER}/wallet/convert", {"points": 2}, format="json"
        ),
    )

    # Before the erasure, or after it (the player is gone); never a deadlock (503) between.
    assert {status for status in statuses} <= {(201, None), (404, "PLAYER_NOT_FOUND")}
    for wallet in Wallet.objects.filter(realm=realm):
        ledger = LedgerEntry.objects.filter(player_id=wallet.player_id)
        assert wallet.points_balance == sum(entry.points for entry in ledger)
        assert wallet.coins_balance == sum(entry.coins for entry in ledger)


def test_a_reversal_racing_an_erasure_takes_the_award_back_on_either_player():
    realm = RealmFactory(slug="race")
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    task = TaskFactory(game=game, external_task_id="t1", strategy_id=strategy)
    _, raw = api_key_create(realm=realm, name="server")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)

    statuses = _race(
        rounds=20,
        prepare=lambda: _player_with_points(client, 3),
        request=lambda award_id: client.post(
            f"/api/v1/awards/{award_id}/reverse", {"reason": "duplicate"}, format="json"
        ),
    )

    # Before the erasure or after it (on the tombstone); 503 when PostgreSQL broke a deadlock
    # between the two, as for awards. Never a 500 for a player gone between read and write.
    assert len(statuses) == 20
    assert {status for status in statuses} <= {(201, None), (503, "SERVICE_UNAVAILABLE")}
    reversed_count = sum(1 for status, _ in statuses if status == 201)
    assert AwardReversal.objects.filter(task=task).count() == reversed_count
    for wallet in Wallet.objects.filter(realm=realm):
        ledger = LedgerEntry.objects.filter(player_id=wallet.player_id)
        assert wallet.points_balance == sum(entry.points for entry in ledger)
    stats = TaskStats.objects.get(task=task)
    kept = 20 - reversed_count
    assert (stats.award_count, stats.points_total) == (kept, 3.0 * kept)
    assert {
        key: value for key, value in stored_boards(game).items() if value != (0.0, 0)
    } == boards_from_awards(game)


def test_an_adjustment_racing_an_erasure_posts_before_it_or_finds_no_player():
    realm = RealmFactory(slug="race")
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    TaskFactory(game=game, external_task_id="t1", strategy_id=strategy)
    _, raw = api_key_create(realm=realm, name="server")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    operator = User.objects.create_user("operator")
    outcomes: list[str] = []

    def adjust(go: threading.Barrier, player: Player) -> None:
        try:
            go.wait()
            wallet_adjust(
                player=player, points=Decimal(1), coins=1, reason="goodwill", user=operator
            )
            outcomes.append("adjusted")
        except NotFoundError as error:
            outcomes.append(error.code)
        except Exception as error:  # noqa: BLE001 - what a deadlock or a foreign key raises
            outcomes.append(type(error).__name__)
        finally:
            connection.close()

    for _ in range(10):
        _player_with_points(client, 5)
        player = Player.objects.get(realm=realm, external_user_id=USER)
        go = threading.Barrier(2)
        thread = threading.Thread(target=adjust, args=(go, player))
        thread.start()
        go.wait()
        _erase_retrying()
        thread.join()

    assert set(outcomes) <= {"adjusted", "PLAYER_NOT_FOUND"}
    for wallet in Wallet.objects.filter(realm=realm):
        ledger = LedgerEntry.objects.filter(player_id=wallet.player_id)
        assert wallet.points_balance == sum(entry.points for entry in ledger)
        assert wallet.coins_balance == sum(entry.coins for entry in ledger)
