"""Wallets, boards and reversals under concurrency on PostgreSQL: 2,000 awards from
concurrent threads while others reverse awards and convert points, after which every wallet
is the sum of its ledger, every board the aggregate of the awards not reversed and every
cached set the entries; racing reversals of one award and racing duplicate conversions."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Sum

from gamification.models import (
    Award,
    AwardReversal,
    Game,
    LedgerEntry,
    Player,
    PlayerTaskStats,
    Realm,
    Task,
    TaskStats,
    Wallet,
)
from gamification.wallet.errors import InsufficientPoints
from gamification.wallet.services import wallet_convert
from scoring.reversals import AwardAlreadyReversed, award_reverse
from tests.gamification.concurrency_helpers import (
    AWARDS_PER_THREAD,
    THREADS,
    assert_cached_sets_are_the_entries,
    award_at_random,
    busy_game,
    guarded,
    random_player,
    read_boards_at_random,
    run_threads,
)
from tests.gamification.leaderboard_helpers import award, boards_from_awards, stored_boards

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency of PostgreSQL"),
]


def _game() -> tuple[Game, list[Task]]:
    return busy_game(conversion_rate=Decimal(2))


def _wallets_are_their_ledgers() -> None:
    sums = {
        row["player_id"]: (row["points"], row["coins"])
        for row in LedgerEntry.objects.values("player_id").annotate(
            points=Sum("points"), coins=Sum("coins")
        )
    }
    wallets = {w.player_id: (w.points_balance, w.coins_balance) for w in Wallet.objects.all()}
    assert wallets == sums


class _Load:
    """Awards from many threads while one reverses recent awards, one converts points and
    one reads boards; every error is kept for the test."""

    def __init__(self, game: Game, tasks: list[Task]) -> None:
        self.game, self.tasks = game, tasks
        self.realm = Realm.objects.get(pk=game.realm_id)
        self.errors: list[BaseException] = []
        self.done = threading.Event()
        self.reversed_ids: list[str] = []
        self.converted: dict[str, Decimal] = defaultdict(Decimal)

    def reversing(self) -> None:
        rng = random.Random(-2)
        while not self.done.is_set():
            ids = list(
                Award.objects.filter(task__game=self.game, reversal__isnull=True)
                .order_by("-created_at")
                .values_list("pk", flat=True)[:50]
            )
            if ids:
                award_id = str(rng.choice(ids))
                award_reverse(realm=self.realm, award_id=award_id, reason="test")
                self.reversed_ids.append(award_id)

    def converting(self) -> None:
        rng = random.Random(-3)
        while not self.done.is_set():
            user = random_player(rng)
            player = Player.objects.filter(realm=self.realm, external_user_id=user).first()
            if player is None:
                continue
            try:
                wallet_convert(realm=self.realm, player=player, points=Decimal(4))
            except InsufficientPoints:
                continue
            self.converted[user] += 4

    def reading(self) -> None:
        rng = random.Random(-1)
        while not self.done.is_set():
            read_boards_at_random(self.game, self.tasks, rng)

    def run(self) -> None:
        others = [
            threading.Thread(target=guarded, args=(work, self.errors))
            for work in (self.reversing, self.converting, self.reading)
        ]
        for thread in others:
            thread.start()
        run_threads(
            [
                threading.Thread(
                    target=guarded,
                    args=(lambda s=seed: award_at_random(self.tasks, s), self.errors),
                )
                for seed in range(THREADS)
            ]
        )
        self.done.set()
        for thread in others:
            thread.join()


def _assert_wallets(game: Game, converted: dict[str, Decimal]) -> None:
    """Every wallet is its ledger, and the ledger the awards not reversed less conversions."""
    _wallets_are_their_ledgers()
    kept = Award.objects.filter(task__game=game, reversal__isnull=True)
    for row in kept.values("player__external_user_id").annotate(points=Sum("points")):
        user = row["player__external_user_id"]
        wallet = Wallet.objects.get(player__external_user_id=user)
        assert wallet.points_balance == Decimal(row["points"]) - converted[user]
        assert wallet.coins_balance == converted[user] / 2


def _assert_stats(game: Game) -> None:
    """The stats rows count the awards not reversed."""
    kept = Award.objects.filter(task__game=game, reversal__isnull=True)
    for row in kept.values("task_id", "player_id").annotate(n=Count("pk"), points=Sum("points")):
        stats = PlayerTaskStats.objects.get(task_id=row["task_id"], player_id=row["player_id"])
        assert (stats.award_count, stats.points_total) == (row["n"], row["points"])
    for row in kept.values("task_id").annotate(n=Count("pk"), points=Sum("points")):
        stats = TaskStats.objects.get(task_id=row["task_id"])
        assert (stats.award_count, stats.points_total) == (row["n"], row["points"])


def test_wallets_boards_and_stats_add_up_after_concurrent_awards_reversals_and_conversions(
    leaderboard_redis,
):
    game, tasks = _game()
    load = _Load(game, tasks)

    load.run()

    assert load.errors == []
    assert Award.objects.filter(task__game=game).count() == THREADS * AWARDS_PER_THREAD
    assert len(load.reversed_ids) > 10
    assert AwardReversal.objects.count() == len(set(load.reversed_ids)) == len(load.reversed_ids)
    assert sum(load.converted.values()) > 0
    # Every board is the aggregate of the awards not reversed; a player whose every award on
    # a board was reversed keeps an entry of nothing.
    stored = stored_boards(game)
    nonzero = {key: value for key, value in stored.items() if value[1] != 0}
    assert nonzero == boards_from_awards(game)
    assert {value for value in stored.values() if value[1] == 0} <= {(0, 0)}
    _assert_wallets(game, load.converted)
    _assert_stats(game)
    assert_cached_sets_are_the_entries(leaderboard_redis, game, stored)


def test_two_concurrent_reversals_of_one_award_make_one_reversal():
    game, tasks = _game()
    realm = Realm.objects.get(pk=game.realm_id)
    for n in range(10):
        award(tasks[0], f"player-{n}", 5)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    for award_id in Award.objects.values_list("pk", flat=True):
        barrier = threading.Barrier(2)

        def reversing(award_id=award_id, barrier=barrier) -> None:
            try:
                barrier.wait()
                award_reverse(realm=realm, award_id=str(award_id), reason="race")
                outcomes.append("201")
            except AwardAlreadyReversed:
                outcomes.append("409")
            except BaseException as error:  # noqa: BLE001 - reported to the test
                errors.append(error)
            finally:
                connection.close()

        run_threads([threading.Thread(target=reversing) for _ in range(2)])

    assert errors == []
    assert sorted(outcomes) == ["201"] * 10 + ["409"] * 10
    assert AwardReversal.objects.count() == 10
    assert LedgerEntry.objects.filter(kind="reversal").count() == 10
    assert TaskStats.objects.get(task=tasks[0]).award_count == 0
    assert set(Wallet.objects.values_list("points_balance", flat=True)) == {0}
    _wallets_are_their_ledgers()


def test_concurrent_duplicate_conversions_convert_once_and_answer_the_same():
    game, tasks = _game()
    realm = Realm.objects.get(pk=game.realm_id)
    award(tasks[0], "alice", 10)
    player = Player.objects.get(external_user_id="alice")
    barrier = threading.Barrier(THREADS)
    bodies: list[tuple[bytes, bool]] = []
    errors: list[BaseException] = []

    def converting() -> None:
        try:
            barrier.wait()
            outcome = wallet_convert(
                realm=realm, player=player, points=Decimal(4), idempotency_key="once"
            )
            bodies.append((outcome.body, outcome.created))
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connection.close()

    run_threads([threading.Thread(target=converting) for _ in range(THREADS)])

    assert errors == []
    assert len({body for body, _ in bodies}) == 1
    assert sorted(created for _, created in bodies) == [False] * (THREADS - 1) + [True]
    wallet = Wallet.objects.get(player=player)
    assert (wallet.points_balance, wallet.coins_balance) == (6, 2)
    _wallets_are_their_ledgers()


def test_concurrent_conversions_never_spend_more_than_the_balance():
    game, tasks = _game()
    realm = Realm.objects.get(pk=game.realm_id)
    award(tasks[0], "alice", 10)
    player = Player.objects.get(external_user_id="alice")
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []

    def converting() -> None:
        try:
            barrier.wait()
            wallet_convert(realm=realm, player=player, points=Decimal(2))
            outcomes.append("201")
        except InsufficientPoints:
            outcomes.append("409")
        finally:
            connection.close()

    run_threads([threading.Thread(target=converting) for _ in range(THREADS)])

    assert sorted(outcomes) == ["201"] * 5 + ["409"] * (THREADS - 5)
    wallet = Wallet.objects.get(player=player)
    assert (wallet.points_balance, wallet.coins_balance) == (0, 5)
    _wallets_are_their_ledgers()
