"""Reads of custom strategies, including the award path's resolution of ``custom:<uuid>``."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from django.db import connection
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.fields import CharField, IntegerField
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils.dateparse import parse_datetime

from gamification.errors import DomainError, NotFoundError
from gamification.models import Game, Realm, Task
from gamification.sql import column
from gamification.strategy_ids import CUSTOM_PREFIX, custom_strategy_id, strategy_uuid
from scoring.builtins.registry import builtin_get
from scoring.dsl.compile import CompiledProgram, compile_program
from scoring.dsl.errors import DslValidationError
from scoring.engine import dsl_limits
from scoring.errors import StrategyFailed, StrategyNotFound, StrategyNotPublished
from scoring.strategy_types import ResolvedStrategy, StrategyKind
from strategies.errors import StrategyDefinitionNotFound, StrategyVersionNotFound
from strategies.models import BUNDLE_FORMAT, StrategyDefinition, StrategyStatus

# -- the award path ------------------------------------------------------------------------------
#: Compiled programs by (definition id, updated_at): a publish, rollback or archive touches
#: updated_at, so a stale entry can never be served. Bounded, oldest evicted first.
_PROGRAMS: OrderedDict[tuple[uuid.UUID, datetime], CompiledProgram] = OrderedDict()
_PROGRAMS_SIZE = 256


def _program_load(row: StrategyDefinition, parent: Any) -> CompiledProgram:
    key = (row.pk, row.updated_at)
    program = _PROGRAMS.get(key)
    if program is not None:
        _PROGRAMS.move_to_end(key)
        return program
    # Re-validated on load (Q26): the compile cache is keyed by the AST's hash, so this costs
    # one validation per distinct program and process, not one per award.
    program = compile_program(row.ast_json, limits=dsl_limits(), parent=parent)
    _PROGRAMS[key] = program
    if len(_PROGRAMS) > _PROGRAMS_SIZE:
        _PROGRAMS.popitem(last=False)
    return program


def strategy_resolve_custom(*, realm: Realm, strategy_id: str) -> ResolvedStrategy:
    """Return the PUBLISHED version of the custom strategy family bound as ``strategy_id``.

    Any version id of a family resolves to the family's published version. One query: the
    bound row and its published sibling come back together (primary key or partial index).
    """
    pk = strategy_uuid(strategy_id)
    if pk is None:
        raise StrategyNotFound(f"No strategy {strategy_id!r}.")
    family_name = StrategyDefinition.objects.filter(pk=pk, realm=realm).values("name")[:1]
    rows = list(
        StrategyDefinition.objects.filter(realm=realm)
        .filter(Q(pk=pk) | Q(status=StrategyStatus.PUBLISHED, name=Subquery(family_name)))
        .only("name", "type", "parent_strategy_id", "ast_json", "version", "status", "updated_at")
    )
    if not rows:
        raise StrategyNotFound(f"No strategy {strategy_id!r}.")
    live = next((row for row in rows if row.status == StrategyStatus.PUBLISHED), None)
    if live is None:
        raise StrategyNotPublished(
            f"Strategy {strategy_id!r} has no published version; drafts and archived "
            "versions only run in simulation."
        )
    parent = builtin_get(live.parent_strategy_id) if live.parent_strategy_id else None
    try:
        program = _program_load(live, parent)
    except DslValidationError as error:
        raise StrategyFailed(error) from None
    resolved = ResolvedStrategy(
        strategy_id=strategy_id,
        version=str(live.version),
        kind=StrategyKind.DSL_EXTEND if parent is not None else StrategyKind.DSL_FULL,
        builtin=parent,
        program=program,
        definition_id=str(live.pk),
    )
    if len(_RESOLVED) >= _RESOLVED_SIZE:
        _RESOLVED.clear()
    _RESOLVED[(realm.pk, strategy_id)] = (live.pk, live.updated_at, resolved)
    return resolved


#: The last resolution of each bound id, by (realm id, strategy id), with the published row
#: (id, updated_at) it came from. Only the award read's prefetch answers from it, after that
#: read has shown the same row is still the published one.
_RESOLVED: dict[tuple[int, str], tuple[uuid.UUID, datetime, ResolvedStrategy]] = {}
_RESOLVED_SIZE = 1024


def _updated_at(value: Any) -> datetime | None:
    """Return ``updated_at`` as the ORM gives it (SQLite answers naive UTC text)."""
    if value is None or isinstance(value, datetime):
        return value
    moment = parse_datetime(value)
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


class PublishedVersionPrefetch:
    """Find the published version of a bound id's family inside the award read.

    The published row's id and ``updated_at`` are what ``_program_load`` keys compiled
    programs by: if both match the last resolution of the id, that resolution is still exact,
    so an award with a custom strategy reads nothing more than one with a built-in.
    """

    columns: tuple[str, ...]
    join: str

    def __init__(self) -> None:
        table = StrategyDefinition._meta.db_table
        pk, realm = column(StrategyDefinition, "id"), column(StrategyDefinition, "realm")
        name, status = column(StrategyDefinition, "name"), column(StrategyDefinition, "status")
        self.columns = (f"live.{pk}", f"live.{column(StrategyDefinition, 'updated_at')}")
        self.join = (
            f"LEFT JOIN {table} live ON live.{realm} = event.realm_id AND live.{status} = %s "
            f"AND live.{name} = (SELECT bound.{name} FROM {table} bound "
            f"WHERE bound.{pk} = %s AND bound.{realm} = event.realm_id)"
        )

    def join_params(self, *, strategy_id: str) -> list[Any]:
        pk = strategy_uuid(strategy_id)
        field = StrategyDefinition._meta.get_field("id")
        bound = field.get_db_prep_value(pk, connection) if pk is not None else None
        return [StrategyStatus.PUBLISHED.value, bound]

    def resolve_cached(
        self, *, realm: Realm, strategy_id: str, values: Sequence[Any]
    ) -> ResolvedStrategy | None:
        live_pk, updated_at = values
        entry = _RESOLVED.get((realm.pk, strategy_id))
        if entry is None or live_pk is None:
            return None
        cached_pk, cached_updated_at, resolved = entry
        if cached_pk != StrategyDefinition._meta.get_field("id").to_python(live_pk):
            return None
        return resolved if cached_updated_at == _updated_at(updated_at) else None


# -- authoring reads -----------------------------------------------------------------------------
#: The people and keys a version records (its author and the latest publish and archive).
ACTOR_FIELDS = (
    "created_by",
    "api_key_used",
    "published_by",
    "published_by_key",
    "archived_by",
    "archived_by_key",
)


class UuidText(Cast):
    """A UUID column as the canonical text ``str(uuid)`` gives (lower-case, with dashes).

    PostgreSQL's ``uuid::text`` is that text already; SQLite stores 32 hex digits without
    dashes, so they are put back there.
    """

    def __init__(self, expression: Any) -> None:
        super().__init__(expression, output_field=CharField())

    def as_sqlite(self, compiler, connection, **extra_context):  # noqa: ARG002 - Django's hook
        column, params = compiler.compile(self.get_source_expressions()[0])
        parts = [f"substr({column}, {start}, {length})" for start, length in _UUID_GROUPS]
        return " || '-' || ".join(parts), tuple(params) * len(_UUID_GROUPS)


#: Where the 8-4-4-4-12 groups of a UUID's 32 hex digits start, and their lengths.
_UUID_GROUPS = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))


def _bound_id_expression():
    return Concat(Value(CUSTOM_PREFIX), UuidText("pk"), output_field=CharField())


def strategy_list(*, realm: Realm) -> QuerySet[StrategyDefinition]:
    return (
        StrategyDefinition.objects.filter(realm=realm)
        .select_related(*ACTOR_FIELDS)
        .order_by("name", "-version")
    )


def strategy_get(*, realm: Realm, strategy_id: str) -> StrategyDefinition:
    """Return one version by its UUID or ``custom:<uuid>``; other realms' rows are a 404."""
    pk = strategy_uuid(strategy_id)
    row = (
        StrategyDefinition.objects.select_related(*ACTOR_FIELDS).filter(pk=pk, realm=realm).first()
        if pk is not None
        else None
    )
    if row is None:
        raise StrategyDefinitionNotFound(f"No custom strategy {strategy_id!r}.")
    return row


def strategy_find(
    *, pk: uuid.UUID | str, realm_ids: Collection[int] | None
) -> StrategyDefinition | None:
    """Return one version by primary key if it is in ``realm_ids`` (``None``: any realm).

    The staff admin's read: a version of a realm the user may not see is not found.
    """
    rows = StrategyDefinition.objects.select_related("realm").filter(pk=pk)
    if realm_ids is not None:
        rows = rows.filter(realm_id__in=sorted(realm_ids))
    return rows.first()


def strategy_versions(*, strategy: StrategyDefinition) -> QuerySet[StrategyDefinition]:
    """Return every version of ``strategy``'s family, newest first."""
    return (
        StrategyDefinition.objects.filter(realm_id=strategy.realm_id, name=strategy.name)
        .select_related(*ACTOR_FIELDS)
        .order_by("-version")
    )


def strategy_version_pair(
    *, strategy: StrategyDefinition, old: int, new: int
) -> tuple[StrategyDefinition, StrategyDefinition]:
    """Return versions ``old`` and ``new`` of ``strategy``'s family, to compare them."""
    versions = {row.version: row for row in strategy_versions(strategy=strategy)}
    missing = next((v for v in (old, new) if v not in versions), None)
    if missing is not None:
        raise StrategyVersionNotFound(f"{strategy.name!r} has no version {missing}.")
    return versions[old], versions[new]


def strategy_family_live(*, strategy: StrategyDefinition) -> StrategyDefinition | None:
    return (
        StrategyDefinition.objects.filter(
            realm_id=strategy.realm_id, name=strategy.name, status=StrategyStatus.PUBLISHED
        )
        .order_by()
        .first()
    )


def strategy_family_ids(*, strategy: StrategyDefinition) -> list[str]:
    """Return the ids (``custom:<uuid>``) of every version of ``strategy``'s family."""
    pks = StrategyDefinition.objects.filter(
        realm_id=strategy.realm_id, name=strategy.name
    ).values_list("pk", flat=True)
    return [custom_strategy_id(pk) for pk in pks]


@dataclass(frozen=True, slots=True)
class GameUsage:
    external_game_id: str
    strategy_id: str


@dataclass(frozen=True, slots=True)
class TaskUsage:
    external_game_id: str
    external_task_id: str
    strategy_id: str
    inherits_strategy: bool


@dataclass(frozen=True, slots=True)
class Usage:
    """The games and tasks bound to a version of a family, in binding order."""

    strategy_id: str
    name: str
    games: list[GameUsage]
    tasks: list[TaskUsage]

    @property
    def game_count(self) -> int:
        return len(self.games)

    @property
    def task_count(self) -> int:
        return len(self.tasks)


def strategy_usage(*, strategy: StrategyDefinition) -> Usage:
    """Return the games and tasks bound to any version of ``strategy``'s family."""
    ids = strategy_family_ids(strategy=strategy)
    games = (
        Game.objects.filter(realm_id=strategy.realm_id, strategy_id__in=ids)
        .order_by("external_game_id")
        .values_list("external_game_id", "strategy_id")
    )
    tasks = (
        Task.objects.filter(game__realm_id=strategy.realm_id, strategy_id__in=ids)
        .order_by("game__external_game_id", "external_task_id")
        .values_list(
            "game__external_game_id", "external_task_id", "strategy_id", "inherits_strategy"
        )
    )
    return Usage(
        strategy_id=strategy.strategy_id,
        name=strategy.name,
        games=[GameUsage(*row) for row in games],
        tasks=[TaskUsage(*row) for row in tasks],
    )


def strategy_usage_counts(*, strategy: StrategyDefinition) -> tuple[int, int]:
    """Return how many games and tasks a switch of ``strategy``'s family would move."""
    ids = strategy_family_ids(strategy=strategy)
    games = Game.objects.filter(realm_id=strategy.realm_id, strategy_id__in=ids).count()
    tasks = Task.objects.filter(game__realm_id=strategy.realm_id, strategy_id__in=ids).count()
    return games, tasks


@dataclass(frozen=True, slots=True)
class TransitionPreview:
    """What a publish, archive or rollback of a version would do, before it is confirmed."""

    action: str
    target: int
    games: int
    tasks: int
    blast: str


def strategy_transition_preview(
    *, strategy: StrategyDefinition, action: str, version: int | None = None
) -> TransitionPreview:
    """Return the version a transition makes live and who it moves, in words.

    Bindings follow the published version, so the consumers counted are the family's.
    """
    games, tasks = strategy_usage_counts(strategy=strategy)
    target = strategy.version if version is None else version
    consumers = (
        f"{games} game{'s' if games != 1 else ''} and {tasks} task{'s' if tasks != 1 else ''}"
    )
    if action == "archive":
        blast = (
            f"{consumers} will stop scoring: awards answer 409 STRATEGY_NOT_PUBLISHED until "
            "another version is published or rolled back to."
            if strategy.status == StrategyStatus.PUBLISHED
            else "No game or task is affected: this version is not live."
        )
    else:
        blast = f"{consumers} will switch to v{target}."
    return TransitionPreview(action=action, target=target, games=games, tasks=tasks, blast=blast)


def strategy_list_with_usage(
    queryset: QuerySet[StrategyDefinition],
) -> QuerySet[StrategyDefinition]:
    """Annotate each version with the games and tasks bound to its family.

    Bindings follow the published version, so counting by family shows who a publish moves.
    """
    family_ids = StrategyDefinition.objects.filter(
        realm_id=OuterRef(OuterRef("realm_id")), name=OuterRef(OuterRef("name"))
    ).annotate(bound=_bound_id_expression())
    game_count = (
        Game.objects.filter(
            realm_id=OuterRef("realm_id"),
            strategy_id__in=family_ids.values("bound"),
        )
        .order_by()
        .values("realm_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    task_count = (
        Task.objects.filter(
            game__realm_id=OuterRef("realm_id"),
            strategy_id__in=family_ids.values("bound"),
        )
        .order_by()
        .values("game__realm_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(
        game_count=Coalesce(Subquery(game_count, output_field=IntegerField()), Value(0)),
        task_count=Coalesce(Subquery(task_count, output_field=IntegerField()), Value(0)),
        family_name=F("name"),
    )


class Bundle(TypedDict):
    """The portable form of one version; ``strategies.services.strategy_import`` reads it."""

    format: str
    name: str
    description: str
    type: str
    parent_strategy_id: str | None
    ast_json: Any
    blockly_xml: str
    experiment_tag: str | None
    version: int
    status: str
    source_id: str


def strategy_export(*, strategy: StrategyDefinition) -> Bundle:
    """Return the portable bundle of one version (import creates a DRAFT from it)."""
    return Bundle(
        format=BUNDLE_FORMAT,
        name=strategy.name,
        description=strategy.description,
        type=strategy.type,
        parent_strategy_id=strategy.parent_strategy_id,
        ast_json=strategy.ast_json,
        blockly_xml=strategy.blockly_xml,
        experiment_tag=strategy.experiment_tag,
        version=strategy.version,
        status=strategy.status,
        source_id=str(strategy.pk),
    )


def simulation_realm_get(*, realm_id: int | None, realm_ids: Collection[int] | None) -> Realm:
    """Return the realm an editor simulation runs in, if it is among ``realm_ids``.

    ``realm_ids`` are the realms the user may simulate in (``None``: every realm). A realm
    outside them answers as one that does not exist, so its existence is not confirmed. A
    request naming no realm runs in the user's only realm; with several, it must name one.
    """
    realms = Realm.objects.order_by("pk")
    if realm_ids is not None:
        realms = realms.filter(pk__in=sorted(realm_ids))
    if realm_id is None:
        only = list(realms[:2])
        if len(only) == 1:
            return only[0]
        raise DomainError("Pick the realm to simulate in.", code="REALM_REQUIRED", field="realm")
    realm = realms.filter(pk=realm_id).first()
    if realm is None:
        raise NotFoundError(f"No realm {realm_id}.", code="REALM_NOT_FOUND", field="realm")
    return realm


def custom_strategy_exists(*, realm: Realm, strategy_id: str) -> bool:
    """Whether ``custom:<uuid>`` names a version of ``realm`` (any status: a task may be bound
    to a family before its first version is published)."""
    definition_id = strategy_uuid(strategy_id)
    if definition_id is None:
        return False
    return StrategyDefinition.objects.filter(pk=definition_id, realm=realm).exists()
