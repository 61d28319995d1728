"""Writes of wallets: an award's or a reversal's entry (the ORM path), conversions of points
into coins, and operators' adjustments. Each writes its ledger entry and its balance change
in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from gamification.errors import NotFoundError
from gamification.models import (
    ApiKey,
    Award,
    Game,
    LedgerEntry,
    LedgerEntryKind,
    Player,
    Realm,
    Wallet,
)
from gamification.wallet.errors import (
    AdjustmentInvalid,
    ConversionIdempotencyKeyReused,
    ConversionNotConfigured,
    ConversionNotWholeCoins,
    InsufficientPoints,
)
from gamification.wallet.render import body_dumps, ledger_entry_json, points_json, rate_json

MICRO = Decimal("0.000001")
#: The largest coins balance a wallet holds (BIGINT).
COINS_MAX = 2**63 - 1


def points_decimal(points: float) -> Decimal:
    """An award's float points as the ledger keeps them: rounded to a millionth."""
    return Decimal(repr(points)).quantize(MICRO, rounding=ROUND_HALF_EVEN)


def _wallet_apply(
    *, realm_id: int, player_id: int, points: Decimal, coins: int, at: datetime
) -> None:
    """Add to a wallet, creating it first, in the caller's transaction."""
    Wallet.objects.get_or_create(
        player_id=player_id, defaults={"realm_id": realm_id, "updated_at": at}
    )
    Wallet.objects.filter(player_id=player_id).update(
        points_balance=F("points_balance") + points,
        coins_balance=F("coins_balance") + coins,
        updated_at=at,
    )


def wallet_award_record(*, award: Award, kind: str = LedgerEntryKind.AWARD, **entry: Any) -> None:
    """Add an award's points (or, with ``kind`` reversal, take them back) to its player's
    wallet, in the caller's transaction.

    On PostgreSQL the award's (or the reversal's) own statement does this
    (``sql.wallet_change_ctes``); this is the ORM path of the demo.
    """
    points = points_decimal(award.points)
    if kind == LedgerEntryKind.REVERSAL:
        points = -points
    at = entry.pop("at", award.created_at)
    LedgerEntry.objects.create(
        realm_id=award.realm_id,
        player_id=award.player_id,
        kind=kind,
        points=points,
        award_id=award.pk,
        created_at=at,
        **entry,
    )
    _wallet_apply(realm_id=award.realm_id, player_id=award.player_id, points=points, coins=0, at=at)


@dataclass(frozen=True, slots=True)
class ConversionOutcome:
    """A conversion's JSON answer and whether it was made now (else a replay)."""

    body: bytes
    created: bool


def _conversion_rate(*, realm: Realm, external_game_id: str | None) -> Decimal:
    """The points per coin of a conversion: the named game's, else the realm's (as stored
    now; the realm of a request is a cached copy)."""
    rate = Realm.objects.filter(pk=realm.pk).values_list("conversion_rate", flat=True).first()
    if external_game_id is not None:
        game = (
            Game.objects.filter(realm=realm, external_game_id=external_game_id)
            .values_list("conversion_rate", flat=True)
            .first()
        )
        if (
            game is None
            and not Game.objects.filter(realm=realm, external_game_id=external_game_id).exists()
        ):
            raise NotFoundError(f"No game {external_game_id!r}.", code="GAME_NOT_FOUND")
        rate = game if game is not None else rate
    if rate is None:
        raise ConversionNotConfigured(
            "No conversion rate is set for this realm"
            + (" or game." if external_game_id is not None else ".")
        )
    return rate


def _conversion_request(
    *, player: Player, points: Decimal, external_game_id: str | None
) -> dict[str, Any]:
    return {
        "externalUserId": player.external_user_id,
        "points": str(points.quantize(MICRO)),
        "externalGameId": external_game_id,
    }


def _conversion_replay(
    *, realm: Realm, idempotency_key: str, request: dict[str, Any]
) -> ConversionOutcome | None:
    row = (
        LedgerEntry.objects.filter(realm=realm, idempotency_key=idempotency_key)
        .values_list("request", "response_body")
        .first()
    )
    if row is None:
        return None
    stored_request, body = row
    if stored_request != request:
        raise ConversionIdempotencyKeyReused(
            "This Idempotency-Key was already used for another conversion."
        )
    assert body is not None, "a conversion under an Idempotency-Key keeps its answer"
    return ConversionOutcome(body=body.encode(), created=False)


def _player_lock(player: Player) -> None:
    """Lock the player's row before its wallet, in the order an erasure takes them.

    A conversion's (or an adjustment's) ledger entry checks its foreign key to the player,
    which waits on an erasure's lock of that row, while the erasure waits on the wallet to
    move it: locked the other way round, the two deadlock every time. ``FOR NO KEY UPDATE``
    leaves awards (whose foreign key checks share the key) alone. A player erased meanwhile
    is gone.
    """
    locked = Player.objects.select_for_update(no_key=True).filter(pk=player.pk)
    if not locked.values_list("pk", flat=True):
        raise NotFoundError(f"No player {player.external_user_id!r}.", code="PLAYER_NOT_FOUND")


def wallet_convert(
    *,
    realm: Realm,
    player: Player,
    points: Decimal,
    external_game_id: str | None = None,
    idempotency_key: str | None = None,
    api_key: ApiKey | None = None,
) -> ConversionOutcome:
    """Turn ``points`` of the player's wallet into coins at the game's or realm's rate.

    ``points`` must be a whole number of coins at the rate (422 otherwise: nothing is
    rounded away). One transaction, the wallet row locked, so that concurrent conversions
    and awards never spend a point twice. A known ``idempotency_key`` answers the stored
    answer; concurrent duplicates race on its unique index and the losers replay the winner.
    """
    request = _conversion_request(player=player, points=points, external_game_id=external_game_id)
    if idempotency_key is not None:
        replay = _conversion_replay(realm=realm, idempotency_key=idempotency_key, request=request)
        if replay is not None:
            return replay
    rate = _conversion_rate(realm=realm, external_game_id=external_game_id)
    coins, rest = divmod(points, rate)
    if rest != 0 or coins < 1 or coins > COINS_MAX:
        raise ConversionNotWholeCoins(
            f"{points} points are not a whole number of coins at {rate} points per coin.",
            conversionRate=rate_json(rate),
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            _player_lock(player)
            wallet = Wallet.objects.select_for_update().filter(player=player).first()
            balance = wallet.points_balance if wallet is not None else Decimal(0)
            if wallet is None or balance < points:
                raise InsufficientPoints(
                    f"The wallet holds {balance} points; {points} were asked for.",
                    pointsBalance=points_json(balance),
                )
            if wallet.coins_balance + int(coins) > COINS_MAX:
                raise ConversionNotWholeCoins("The coins balance would overflow.")
            entry = LedgerEntry(
                realm=realm,
                player=player,
                kind=LedgerEntryKind.CONVERSION,
                points=-points,
                coins=int(coins),
                actor_key=api_key,
                idempotency_key=idempotency_key,
                request=request,
                created_at=now,
            )
            body = {
                "entry": ledger_entry_json(entry),
                "externalUserId": player.external_user_id,
                "conversionRate": rate_json(rate),
                "pointsBalance": points_json(balance - points),
                "coinsBalance": wallet.coins_balance + int(coins),
            }
            entry.response_body = body_dumps(body) if idempotency_key else None
            entry.save(force_insert=True)
            Wallet.objects.filter(pk=wallet.pk).update(
                points_balance=F("points_balance") - points,
                coins_balance=F("coins_balance") + int(coins),
                updated_at=now,
            )
    except IntegrityError:
        if idempotency_key is None:
            raise
        replay = _conversion_replay(realm=realm, idempotency_key=idempotency_key, request=request)
        if replay is None:
            raise
        return replay
    return ConversionOutcome(body=body_dumps(body).encode(), created=True)


def wallet_adjust(
    *, player: Player, points: Decimal, coins: int, reason: str, user: Any
) -> LedgerEntry:
    """Post an operator's adjustment to the player's wallet, recorded in the admin's history.

    Either amount may be negative (a balance may go below zero: an operator's call); both
    zero, or no reason, is refused.
    """
    reason = reason.strip()
    if not reason:
        raise AdjustmentInvalid("An adjustment needs a reason.")
    if points == 0 and coins == 0:
        raise AdjustmentInvalid("An adjustment changes points or coins.")
    now = timezone.now()
    with transaction.atomic():
        _player_lock(player)
        Wallet.objects.get_or_create(
            player=player, defaults={"realm_id": player.realm_id, "updated_at": now}
        )
        wallet = Wallet.objects.select_for_update().get(player=player)
        if abs(wallet.coins_balance + coins) > COINS_MAX:
            raise AdjustmentInvalid("The coins balance would overflow.")
        entry = LedgerEntry.objects.create(
            realm_id=player.realm_id,
            player=player,
            kind=LedgerEntryKind.ADJUSTMENT,
            points=points,
            coins=coins,
            reason=reason,
            actor_user=user,
            created_at=now,
        )
        Wallet.objects.filter(pk=wallet.pk).update(
            points_balance=F("points_balance") + points,
            coins_balance=F("coins_balance") + coins,
            updated_at=now,
        )
        LogEntry.objects.log_actions(
            user_id=user.pk,
            queryset=[wallet],
            action_flag=CHANGE,
            change_message=(
                f"Adjustment {entry.pk}: {points:+} points, {coins:+} coins. Reason: {reason}"
            ),
            single_object=True,
        )
    return entry
