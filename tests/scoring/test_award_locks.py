"""The order in which an award's write takes its locks, on PostgreSQL.

Every award of a task updates the task's stats row. Locked first, it was held while the
rest of the write ran, and the awards of one task ran their writes one at a time; locked
last, it is held only until the commit. These tests hold one of the player's rows from
another connection, so that the write waits there, and look whether the task's row is
locked already.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from gamification.models import LeaderboardEntry, PlayerTaskStats, TaskStats, Wallet
from gamification.services import api_key_create
from tests.database_helpers import other_connection
from tests.factories import GameFactory, RealmFactory, TaskFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's row locks"),
]

PLAYER_ROWS = {"player stats": PlayerTaskStats, "entries": LeaderboardEntry, "wallet": Wallet}


@pytest.fixture
def client() -> APIClient:
    realm = RealmFactory(slug="locks")
    game = GameFactory(realm=realm, external_game_id="g1")
    TaskFactory(game=game, external_task_id="t1", strategy_id="default")
    _, raw = api_key_create(realm=realm, name="server")
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=raw)
    return api


def _award(api: APIClient, user: str = "u") -> dict:
    response = api.post("/api/v1/games/g1/tasks/t1/points", {"externalUserId": user}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _task_row_locked_while_waiting_on(model, write: Callable[[], int]) -> bool:
    """Whether the task's stats row is locked while ``write`` (in a thread) waits on the rows
    of ``model``, which another connection holds; ``write`` must succeed once let go."""
    holder = other_connection(autocommit=False)
    holder.execute(f"SELECT 1 FROM {model._meta.db_table} FOR UPDATE")
    statuses: list[int] = []

    def run() -> None:
        try:
            statuses.append(write())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        with other_connection() as probe:
            deadline = time.monotonic() + 10
            while not probe.execute(
                "SELECT 1 FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'"
            ).fetchone():
                assert time.monotonic() < deadline, "the write never waited"
                time.sleep(0.02)
            try:
                probe.execute(f"SELECT 1 FROM {TaskStats._meta.db_table} FOR UPDATE NOWAIT")
                locked = False
            except psycopg.errors.LockNotAvailable:
                locked = True
    finally:
        holder.rollback()
        holder.close()
        thread.join()
    assert len(statuses) == 1
    assert statuses[0] in (200, 201)
    return locked


@pytest.mark.parametrize("rows", PLAYER_ROWS)
def test_an_award_locks_its_tasks_stats_row_after_the_players_rows(client, rows):
    _award(client)

    locked = _task_row_locked_while_waiting_on(
        PLAYER_ROWS[rows],
        lambda: (
            client.post(
                "/api/v1/games/g1/tasks/t1/points", {"externalUserId": "u"}, format="json"
            ).status_code
        ),
    )

    assert locked is False


@pytest.mark.parametrize("rows", PLAYER_ROWS)
def test_a_batch_set_locks_the_tasks_stats_row_after_the_players_rows(client, rows):
    _award(client, "u0")
    events = [{"externalTaskId": "t1", "externalUserId": f"u{n}"} for n in range(5)]

    def batch() -> int:
        response = client.post("/api/v1/games/g1/points/batch", {"events": events}, format="json")
        assert [result["status"] for result in response.json()["results"]] == [201] * 5
        return response.status_code

    # 200: the batch's own status; each event's 201 is checked above.
    assert _task_row_locked_while_waiting_on(PLAYER_ROWS[rows], batch) is False


@pytest.mark.parametrize("rows", PLAYER_ROWS)
def test_a_reversal_locks_the_tasks_stats_row_after_the_players_rows(client, rows):
    award = _award(client)

    locked = _task_row_locked_while_waiting_on(
        PLAYER_ROWS[rows],
        lambda: (
            client.post(
                f"/api/v1/awards/{award['awardId']}/reverse", {"reason": "test"}, format="json"
            ).status_code
        ),
    )

    assert locked is False
