"""Writes of the core domain: realms and their members, API keys, games and tasks."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Field
from django.utils import timezone

from gamification.auth import api_key_cache_forget, hash_secret
from gamification.errors import ConflictError, DomainError, UnprocessableError
from gamification.hooks import strategy_exists_check
from gamification.models import ApiKey, Game, Realm, RealmMembership, RealmRole, Task
from gamification.rates import rate_parse
from gamification.strategy_ids import strategy_id_is_custom, strategy_id_well_formed

#: Path segment of the bulk endpoint, so it cannot be a task id.
RESERVED_TASK_IDS = frozenset({"bulk"})


class InvalidStrategyId(DomainError):
    code = "STRATEGY_ID_INVALID"


class UnknownStrategy(UnprocessableError):
    code = "STRATEGY_NOT_FOUND"


def strategy_id_check(*, realm: Realm, strategy_id: str) -> str:
    """Reject strategy ids that name no strategy of ``realm``: malformed ids (400), unknown
    built-ins and custom ids of no version or of another realm's (422)."""
    if not strategy_id_well_formed(strategy_id):
        raise InvalidStrategyId(
            f"{strategy_id!r} is neither a built-in strategy id nor custom:<uuid>.",
            field="strategyId",
        )
    check = strategy_exists_check("custom" if strategy_id_is_custom(strategy_id) else "builtin")
    if check is not None and not check(realm=realm, strategy_id=strategy_id):
        raise UnknownStrategy(f"No strategy {strategy_id!r} in this realm.", field="strategyId")
    return strategy_id


def realm_get_or_create(*, slug: str, name: str | None = None) -> tuple[Realm, bool]:
    return Realm.objects.get_or_create(slug=slug, defaults={"name": name or slug})


def _api_key_rate_check(rate: str) -> None:
    if rate:
        try:
            rate_parse(rate)
        except ValidationError as error:
            raise DomainError(error.messages[0], code="RATE_INVALID", field="rate") from None


def api_key_create(*, realm: Realm, name: str, rate: str = "") -> tuple[ApiKey, str]:
    """Create a key and return it with its raw value, which is never stored or shown again.

    ``rate`` (``600/minute``) limits the key; empty: ``API_KEY_DEFAULT_RATE``.
    """
    _api_key_rate_check(rate)
    prefix = f"gk_{secrets.token_hex(6)}"
    secret = secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        realm=realm, name=name, prefix=prefix, secret_hash=hash_secret(secret), rate=rate
    )
    return api_key, f"{prefix}.{secret}"


def api_key_update(*, api_key: ApiKey, name: str, rate: str) -> ApiKey:
    """Rename ``api_key`` and set its rate; the secret and the realm never change."""
    _api_key_rate_check(rate)
    api_key.name = name
    api_key.rate = rate
    api_key.save(update_fields=["name", "rate"])
    # Authenticated requests read the key (and its rate) from a short-lived cache.
    api_key_cache_forget(api_key.prefix)
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    api_key_cache_forget(api_key.prefix)
    return api_key


def game_create(
    *,
    realm: Realm,
    api_key: ApiKey | None,
    external_game_id: str,
    platform: str = "",
    strategy_id: str = "default",
    params: Mapping[str, Any] | None = None,
    conversion_rate: Decimal | None = None,
) -> Game:
    strategy_id_check(realm=realm, strategy_id=strategy_id)
    try:
        with transaction.atomic():
            return Game.objects.create(
                realm=realm,
                external_game_id=external_game_id,
                platform=platform,
                strategy_id=strategy_id,
                params=dict(params or {}),
                conversion_rate=conversion_rate,
                api_key_used=api_key,
            )
    except IntegrityError:
        raise ConflictError(
            f"A game with externalGameId {external_game_id!r} already exists.",
            code="GAME_ALREADY_EXISTS",
        ) from None


@transaction.atomic
def game_update(*, game: Game, changes: Mapping[str, Any]) -> Game:
    """Apply ``changes``; tasks that follow the game's strategy follow a new one."""
    if "strategy_id" in changes:
        strategy_id_check(realm=game.realm, strategy_id=changes["strategy_id"])
    for field, value in changes.items():
        setattr(game, field, value)
    game.save()
    if "strategy_id" in changes:
        game.tasks.filter(inherits_strategy=True).update(
            strategy_id=game.strategy_id, updated_at=timezone.now()
        )
    return game


def game_delete(*, game: Game) -> None:
    game.delete()


def _task_build(
    *,
    game: Game,
    api_key: ApiKey | None,
    external_task_id: str,
    strategy_id: str | None = None,
    status: str = "open",
    params: Mapping[str, Any] | None = None,
    check_strategy: bool = True,
) -> Task:
    if external_task_id in RESERVED_TASK_IDS:
        raise DomainError(
            f"{external_task_id!r} is reserved and cannot be a task id.",
            code="TASK_ID_RESERVED",
            field="externalTaskId",
        )
    if strategy_id is not None and check_strategy:
        strategy_id_check(realm=game.realm, strategy_id=strategy_id)
    return Task(
        game=game,
        external_task_id=external_task_id,
        strategy_id=strategy_id if strategy_id is not None else game.strategy_id,
        inherits_strategy=strategy_id is None,
        status=status,
        params=dict(params or {}),
        api_key_used=api_key,
    )


def task_create(
    *,
    game: Game,
    api_key: ApiKey | None,
    external_task_id: str,
    strategy_id: str | None = None,
    status: str = "open",
    params: Mapping[str, Any] | None = None,
) -> Task:
    """Create a task; without ``strategy_id`` it inherits (and keeps following) the game's."""
    task = _task_build(
        game=game,
        api_key=api_key,
        external_task_id=external_task_id,
        strategy_id=strategy_id,
        status=status,
        params=params,
    )
    try:
        with transaction.atomic():
            task.save(force_insert=True)
    except IntegrityError:
        raise ConflictError(
            f"A task with externalTaskId {external_task_id!r} already exists in this game.",
            code="TASK_ALREADY_EXISTS",
        ) from None
    return task


def tasks_bulk_create(
    *, game: Game, api_key: ApiKey | None, items: Iterable[Mapping[str, Any]]
) -> list[Task]:
    """Create many tasks at once: all of them, or none when one id is taken or repeated."""
    items = list(items)
    # Each distinct id is checked once, not once per task.
    for strategy_id in sorted(
        {str(i["strategy_id"]) for i in items if i.get("strategy_id") is not None}
    ):
        strategy_id_check(realm=game.realm, strategy_id=strategy_id)
    tasks = [
        _task_build(game=game, api_key=api_key, check_strategy=False, **item) for item in items
    ]
    ids = [task.external_task_id for task in tasks]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    taken = sorted(
        Task.objects.filter(game=game, external_task_id__in=ids).values_list(
            "external_task_id", flat=True
        )
    )
    if repeated or taken:
        raise ConflictError(
            "Some externalTaskIds already exist or are repeated in the request.",
            code="TASK_ALREADY_EXISTS",
            conflicts=sorted(set(repeated) | set(taken)),
        )
    try:
        with transaction.atomic():
            return Task.objects.bulk_create(tasks)
    except IntegrityError:
        raise ConflictError(
            "Some externalTaskIds were created concurrently.", code="TASK_ALREADY_EXISTS"
        ) from None


def task_update(*, task: Task, changes: Mapping[str, Any]) -> Task:
    """Apply ``changes``; ``strategy_id=None`` makes the task follow its game's strategy again."""
    changes = dict(changes)
    if "strategy_id" in changes:
        strategy_id = changes.pop("strategy_id")
        if strategy_id is None:
            task.strategy_id = task.game.strategy_id
            task.inherits_strategy = True
        else:
            task.strategy_id = strategy_id_check(realm=task.game.realm, strategy_id=strategy_id)
            task.inherits_strategy = False
    for field, value in changes.items():
        setattr(task, field, value)
    task.save()
    return task


def task_delete(*, task: Task) -> None:
    task.delete()


@dataclass(frozen=True, slots=True)
class MembershipChange:
    """What ``realm_member_add`` did: the membership and what it had to create or replace."""

    membership: RealmMembership
    user_created: bool
    realm_created: bool
    previous_role: str | None


def realm_member_add(
    *, username: str, realm_slug: str, role: str, password: str | None = None
) -> MembershipChange:
    """Give ``username`` the ``role`` in realm ``realm_slug``; idempotent.

    The staff user and the realm are created when missing; a second role for the same realm
    replaces the first. A password, when given, is set (also on an existing user).
    """
    if role not in RealmRole.values:
        raise DomainError(
            f"{role!r} is not a role; choose one of {', '.join(RealmRole.values)}.",
            code="ROLE_INVALID",
        )
    user_model = get_user_model()
    username_field = user_model._meta.get_field(user_model.USERNAME_FIELD)
    assert isinstance(username_field, Field), "a user model's username is a concrete field"
    try:
        username_field.clean(username, None)
    except ValidationError as error:
        raise DomainError(
            f"{username!r} cannot be a username: {' '.join(error.messages)}",
            code="USERNAME_INVALID",
        ) from None
    with transaction.atomic():
        realm, realm_created = realm_get_or_create(slug=realm_slug)
        user, user_created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": True}
        )
        changed_fields = []
        if not user.is_staff:
            user.is_staff = True
            changed_fields.append("is_staff")
        if password is not None:
            user.set_password(password)
            changed_fields.append("password")
        elif user_created:
            user.set_unusable_password()
            changed_fields.append("password")
        if changed_fields:
            user.save(update_fields=changed_fields)
        membership = (
            RealmMembership.objects.select_for_update().filter(user=user, realm=realm).first()
        )
        previous_role = membership.role if membership is not None else None
        if membership is None:
            membership = RealmMembership.objects.create(user=user, realm=realm, role=role)
        elif membership.role != role:
            membership.role = role
            membership.save(update_fields=["role", "updated_at"])
    return MembershipChange(
        membership=membership,
        user_created=user_created,
        realm_created=realm_created,
        previous_role=previous_role,
    )


def realm_member_remove(*, username: str, realm_slug: str) -> bool:
    """Take ``username``'s role in realm ``realm_slug`` away; return whether there was one.

    The user stays (with roles in other realms, and their history); only the membership goes.
    """
    membership = RealmMembership.objects.filter(
        user__username=username, realm__slug=realm_slug
    ).first()
    if membership is None:
        return False
    membership.delete()
    return True
