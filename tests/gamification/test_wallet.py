"""Wallets through the API: balances that are the sum of the ledger, conversions at the game's
or realm's rate, idempotent replays, and other realms' players out of reach."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from gamification.models import Game, LedgerEntry, Realm, Wallet
from tests.factories import GameFactory, TaskFactory
from tests.gamification.leaderboard_helpers import points_strategy

AWARD = "/api/v1/games/g1/tasks/t1/points"
WALLET = "/api/v1/players/{}/wallet"
CONVERT = "/api/v1/players/{}/wallet/convert"


@pytest.fixture
def task(realm):
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    return TaskFactory(game=game, external_task_id="t1", strategy_id=strategy)


def _award(api, user: str, points: float) -> dict:
    response = api.post(AWARD, {"externalUserId": user, "data": {"points": points}}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _rate(realm: Realm, rate: str | None) -> None:
    Realm.objects.filter(pk=realm.pk).update(conversion_rate=rate)


def assert_balances_are_ledger_sums() -> None:
    for wallet in Wallet.objects.all():
        sums = LedgerEntry.objects.filter(player_id=wallet.player_id).aggregate(
            points=Sum("points"), coins=Sum("coins")
        )
        assert (wallet.points_balance, wallet.coins_balance) == (sums["points"], sums["coins"])


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_awards_fill_the_wallet_and_its_ledger(api, realm):
    first = _award(api, "alice", 10)
    _award(api, "alice", 2.5)
    _rate(realm, "5")

    response = api.get(WALLET.format("alice"))

    assert response.status_code == 200
    body = response.json()
    assert body["externalUserId"] == "alice"
    assert body["pointsBalance"] == 12.5
    assert body["coinsBalance"] == 0
    assert body["conversionRate"] == 5
    assert [entry["kind"] for entry in body["latestEntries"]] == ["award", "award"]
    assert [entry["points"] for entry in body["latestEntries"]] == [2.5, 10]
    assert body["latestEntries"][1]["awardId"] == first["awardId"]
    assert body["latestEntries"][1]["actor"]["type"] == "apiKey"
    assert_balances_are_ledger_sums()


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_float_points_enter_the_ledger_rounded_to_a_millionth(api):
    _award(api, "alice", 0.1)
    _award(api, "alice", 0.2)
    _award(api, "alice", 1 / 3)

    wallet = Wallet.objects.get(player__external_user_id="alice")

    assert wallet.points_balance == Decimal("0.633333")
    assert_balances_are_ledger_sums()


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_the_ledger_is_paginated_newest_first_and_filters_by_kind(api, realm):
    for points in range(1, 6):
        _award(api, "alice", points)
    _rate(realm, "1")
    assert api.post(CONVERT.format("alice"), {"points": 3}, format="json").status_code == 201

    page = api.get(WALLET.format("alice") + "/ledger?pageSize=2").json()
    second = api.get(WALLET.format("alice") + "/ledger?pageSize=2&page=2").json()
    in_wallet = api.get(WALLET.format("alice") + "?pageSize=2&page=2").json()
    conversions = api.get(WALLET.format("alice") + "/ledger?kind=conversion").json()

    assert page["count"] == 6
    assert [entry["kind"] for entry in page["results"]] == ["conversion", "award"]
    assert [entry["points"] for entry in page["results"]] == [-3, 5]
    assert [entry["points"] for entry in second["results"]] == [4, 3]
    assert in_wallet["ledger"]["results"] == second["results"]
    assert in_wallet["ledger"]["count"] == 6
    assert len(in_wallet["latestEntries"]) == 6
    assert [(e["points"], e["coins"]) for e in conversions["results"]] == [(-3, 3)]
    for bad in (
        api.get(WALLET.format("alice") + "/ledger?kind=gift"),
        api.get(WALLET.format("alice") + "?kind=gift"),
    ):
        assert bad.status_code == 400
        assert bad.json()["code"] == "VALIDATION_ERROR"
    in_wallet_conversions = api.get(WALLET.format("alice") + "?kind=conversion").json()
    assert in_wallet_conversions["ledger"]["results"] == conversions["results"]
    assert in_wallet_conversions["ledger"]["count"] == 1
    assert len(in_wallet_conversions["latestEntries"]) == 6


@pytest.mark.django_db
def test_a_player_that_does_not_exist_has_no_wallet(api):
    for response in (
        api.get(WALLET.format("nobody")),
        api.get(WALLET.format("nobody") + "/ledger"),
        api.post(CONVERT.format("nobody"), {"points": 5}, format="json"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "PLAYER_NOT_FOUND"


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_another_realms_player_is_a_404_on_every_wallet_endpoint(api, other_api, realm):
    _award(api, "alice", 10)
    _rate(realm, "1")
    Realm.objects.filter(slug="rival").update(conversion_rate="1")

    for response in (
        other_api.get(WALLET.format("alice")),
        other_api.get(WALLET.format("alice") + "/ledger"),
        other_api.post(CONVERT.format("alice"), {"points": 5}, format="json"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "PLAYER_NOT_FOUND"
    assert Wallet.objects.get().points_balance == 10


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_conversion_spends_points_for_coins_at_the_realms_rate(api, realm):
    _award(api, "alice", 25)
    _rate(realm, "2.5")

    response = api.post(CONVERT.format("alice"), {"points": 20}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["entry"]["kind"] == "conversion"
    assert (body["entry"]["points"], body["entry"]["coins"]) == (-20, 8)
    assert body["entry"]["actor"]["type"] == "apiKey"
    assert (body["pointsBalance"], body["coinsBalance"], body["conversionRate"]) == (5, 8, 2.5)
    wallet = api.get(WALLET.format("alice")).json()
    assert (wallet["pointsBalance"], wallet["coinsBalance"]) == (5, 8)
    assert_balances_are_ledger_sums()


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_conversion_at_a_games_rate_overrides_the_realms(api, realm):
    _award(api, "alice", 100)
    _rate(realm, "10")
    Game.objects.filter(external_game_id="g1").update(conversion_rate="4")
    GameFactory(realm=realm, external_game_id="g2")

    at_game = api.post(
        CONVERT.format("alice"), {"points": 20, "externalGameId": "g1"}, format="json"
    )
    at_realm = api.post(
        CONVERT.format("alice"), {"points": 20, "externalGameId": "g2"}, format="json"
    )
    unknown = api.post(
        CONVERT.format("alice"), {"points": 20, "externalGameId": "g9"}, format="json"
    )

    assert at_game.json()["entry"]["coins"] == 5
    assert at_realm.json()["entry"]["coins"] == 2
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "GAME_NOT_FOUND"
    assert Wallet.objects.get().coins_balance == 7


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_conversion_refusals_write_nothing(api, realm):
    _award(api, "alice", 10)

    no_rate = api.post(CONVERT.format("alice"), {"points": 10}, format="json")
    _rate(realm, "3")
    not_whole = api.post(CONVERT.format("alice"), {"points": 10}, format="json")
    short = api.post(CONVERT.format("alice"), {"points": 12}, format="json")
    invalid = [
        api.post(CONVERT.format("alice"), {"points": value}, format="json")
        for value in (0, -3, "many", 1.0000001, None)
    ]

    assert (no_rate.status_code, no_rate.json()["code"]) == (409, "CONVERSION_RATE_NOT_SET")
    assert (not_whole.status_code, not_whole.json()["code"]) == (422, "CONVERSION_NOT_WHOLE_COINS")
    assert not_whole.json()["conversionRate"] == 3
    assert (short.status_code, short.json()["code"]) == (409, "INSUFFICIENT_POINTS")
    assert short.json()["pointsBalance"] == 10
    assert [r.status_code for r in invalid] == [400] * 5
    assert {r.json()["code"] for r in invalid} == {"VALIDATION_ERROR"}
    assert LedgerEntry.objects.filter(kind="conversion").count() == 0
    assert Wallet.objects.get().points_balance == 10


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_conversion_with_an_idempotency_key_replays_its_answer(api, realm):
    _award(api, "alice", 30)
    _award(api, "bob", 30)
    _rate(realm, "5")
    url = CONVERT.format("alice")

    first = api.post(url, {"points": 10}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    again = api.post(url, {"points": 10}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    other_amount = api.post(url, {"points": 15}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    other_player = api.post(
        CONVERT.format("bob"), {"points": 10}, format="json", HTTP_IDEMPOTENCY_KEY="c-1"
    )

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.content == first.content
    assert other_amount.status_code == other_player.status_code == 409
    assert other_amount.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert LedgerEntry.objects.filter(kind="conversion").count() == 1
    assert Wallet.objects.get(player__external_user_id="alice").points_balance == 20
    long_key = api.post(url, {"points": 5}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert long_key.status_code == 400


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_an_idempotency_key_is_per_realm(api, other_api, realm):
    _award(api, "alice", 10)
    _rate(realm, "1")
    api.post(CONVERT.format("alice"), {"points": 5}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")

    replay = other_api.post(
        CONVERT.format("alice"), {"points": 5}, format="json", HTTP_IDEMPOTENCY_KEY="c-1"
    )

    assert replay.status_code == 404


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_a_games_rate_is_set_through_the_games_api(api):
    _award(api, "alice", 30)

    created = api.post(
        "/api/v1/games", {"externalGameId": "shop", "conversionRate": 7.5}, format="json"
    )
    convert = api.post(
        CONVERT.format("alice"), {"points": 15, "externalGameId": "shop"}, format="json"
    )
    cleared = api.patch("/api/v1/games/shop", {"conversionRate": None}, format="json")
    refused = api.patch("/api/v1/games/shop", {"conversionRate": 0}, format="json")

    assert created.status_code == 201
    assert created.json()["conversionRate"] == 7.5
    assert convert.json()["entry"]["coins"] == 2
    assert cleared.json()["conversionRate"] is None
    assert refused.status_code == 400
    after = api.post(
        CONVERT.format("alice"), {"points": 5, "externalGameId": "shop"}, format="json"
    )
    assert after.json()["code"] == "CONVERSION_RATE_NOT_SET"
