"""Reads of custom strategies, including the award path's resolution of ``custom:<uuid>``."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypedDict

from django.db import connection
from django.db.models import Avg, Count, F, OuterRef, Q, QuerySet, Subquery, Value, Variance
from django.db.models.fields import CharField, IntegerField
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from gamification.errors import DomainError, NotFoundError
from gamification.models import Award, ExperimentArm, Game, Realm, Task
from gamification.sql import column
from gamification.strategy_ids import CUSTOM_PREFIX, custom_strategy_id, strategy_uuid
from scoring.builtins.registry import builtin_get
from scoring.dsl.compile import CompiledProgram, compile_program
from scoring.dsl.errors import DslValidationError
from scoring.engine import dsl_limits
from scoring.errors import StrategyFailed, StrategyNotFound, StrategyNotPublished
from scoring.strategy_types import ResolvedStrategy, StrategyKind
from strategies.assignment import assignment_arm, assignment_point
from strategies.errors import (
    ExperimentNotFound,
    StrategyDefinitionNotFound,
    StrategyVersionNotFound,
)
from strategies.experiment_stats import Interval, Sample, WelchTest, mean_interval, welch_test
from strategies.hooks import ArmRuns, arm_runs_reader
from strategies.models import (
    BUNDLE_FORMAT,
    ExperimentStatus,
    StrategyDefinition,
    StrategyExperiment,
    StrategyStatus,
)

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


@dataclass(frozen=True, slots=True)
class ExperimentArms:
    """The two arms of a running experiment, as the award path chooses between them."""

    realm_id: int
    family: str
    share: float
    control: ResolvedStrategy
    candidate: ResolvedStrategy

    def choose(self, *, external_user_id: str) -> ResolvedStrategy:
        point = assignment_point(
            realm_id=self.realm_id, family=self.family, external_user_id=external_user_id
        )
        if assignment_arm(point=point, share=self.share) == ExperimentArm.CANDIDATE:
            return self.candidate
        return self.control


def strategy_resolve_custom(*, realm: Realm, strategy_id: str) -> ResolvedStrategy:
    """Return the PUBLISHED version of the custom strategy family bound as ``strategy_id``.

    Any version id of a family resolves to the family's published version; while the family
    runs an experiment, with the arms to choose from. One query: the bound row, its published
    sibling and the running experiment's candidate come back together (primary key or
    partial indexes).
    """
    pk = strategy_uuid(strategy_id)
    if pk is None:
        raise StrategyNotFound(f"No strategy {strategy_id!r}.")
    family_name = StrategyDefinition.objects.filter(pk=pk, realm=realm).values("name")[:1]
    running = StrategyExperiment.objects.filter(
        realm=realm, name=Subquery(family_name), status=ExperimentStatus.RUNNING
    )
    of_candidate = running.filter(candidate_id=OuterRef("pk"))
    rows = list(
        StrategyDefinition.objects.filter(realm=realm)
        .filter(
            Q(pk=pk)
            | Q(status=StrategyStatus.PUBLISHED, name=Subquery(family_name))
            | Q(pk__in=running.values("candidate_id"))
        )
        .annotate(
            experiment_control_id=Subquery(of_candidate.values("control_id")[:1]),
            experiment_share=Subquery(of_candidate.values("share")[:1]),
        )
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
    resolved = strategy_version_resolve(strategy=live, strategy_id=strategy_id)
    candidate = next(
        (row for row in rows if getattr(row, "experiment_control_id", None) == live.pk), None
    )
    experiment: _ExperimentKey | None = None
    if candidate is not None:
        share = float(candidate.experiment_share)
        experiment = (candidate.pk, share, candidate.updated_at)
        arms = ExperimentArms(
            realm_id=realm.pk,
            family=live.name,
            share=share,
            control=replace(resolved, experiment_arm=ExperimentArm.CONTROL),
            candidate=replace(
                strategy_version_resolve(strategy=candidate, strategy_id=strategy_id),
                experiment_arm=ExperimentArm.CANDIDATE,
            ),
        )
        resolved = replace(resolved, arms=arms)
    if len(_RESOLVED) >= _RESOLVED_SIZE:
        _RESOLVED.clear()
    _RESOLVED[(realm.pk, strategy_id)] = (live.pk, live.updated_at, experiment, resolved)
    return resolved


def strategy_version_resolve(*, strategy: StrategyDefinition, strategy_id: str) -> ResolvedStrategy:
    """Return this very version of a custom strategy ready to run, whatever its status, as
    the id ``strategy_id`` is bound (the award path: the published one; a replay: any)."""
    parent = builtin_get(strategy.parent_strategy_id) if strategy.parent_strategy_id else None
    try:
        program = _program_load(strategy, parent)
    except DslValidationError as error:
        raise StrategyFailed(error) from None
    return ResolvedStrategy(
        strategy_id=strategy_id,
        version=str(strategy.version),
        kind=StrategyKind.DSL_EXTEND if parent is not None else StrategyKind.DSL_FULL,
        builtin=parent,
        program=program,
        definition_id=str(strategy.pk),
    )


#: What identifies a running experiment's arms: the candidate (id, updated_at) and the share.
_ExperimentKey = tuple[uuid.UUID, float, datetime]

#: The last resolution of each bound id, by (realm id, strategy id), with the published row
#: (id, updated_at) and the running experiment it came from. Only the award read's prefetch
#: answers from it, after that read has shown the same rows are still the live ones.
_RESOLVED: dict[
    tuple[int, str], tuple[uuid.UUID, datetime, _ExperimentKey | None, ResolvedStrategy]
] = {}
_RESOLVED_SIZE = 1024


def _updated_at(value: Any) -> datetime | None:
    """Return ``updated_at`` as the ORM gives it (SQLite answers naive UTC text)."""
    if value is None or isinstance(value, datetime):
        return value
    moment = parse_datetime(value)
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


class PublishedVersionPrefetch:
    """Find the published version of a bound id's family, and its experiment, in the award read.

    The published row's id and ``updated_at`` are what ``_program_load`` keys compiled
    programs by: if both match the last resolution of the id, that resolution is still exact,
    so an award with a custom strategy reads nothing more than one with a built-in. The same
    holds for the candidate of the family's running experiment and its share.
    """

    columns: tuple[str, ...]
    join: str

    def __init__(self) -> None:
        table = StrategyDefinition._meta.db_table
        pk, realm = column(StrategyDefinition, "id"), column(StrategyDefinition, "realm")
        name, status = column(StrategyDefinition, "name"), column(StrategyDefinition, "status")
        updated_at = column(StrategyDefinition, "updated_at")
        experiment = StrategyExperiment._meta.db_table
        x = {
            field: column(StrategyExperiment, field)
            for field in ("realm", "name", "status", "control", "candidate", "share")
        }
        self.columns = (
            f"live.{pk}",
            f"live.{updated_at}",
            f"xp.{x['candidate']}",
            f"xp.{x['share']}",
            f"candidate.{updated_at}",
        )
        self.join = (
            f"LEFT JOIN {table} live ON live.{realm} = event.realm_id AND live.{status} = %s "
            f"AND live.{name} = (SELECT bound.{name} FROM {table} bound "
            f"WHERE bound.{pk} = %s AND bound.{realm} = event.realm_id) "
            # The status is written out, not bound: a generic plan of the prepared statement
            # can then still prove the partial index's condition and use it.
            f"LEFT JOIN {experiment} xp ON xp.{x['realm']} = event.realm_id "
            f"AND xp.{x['name']} = live.{name} "
            f"AND xp.{x['status']} = '{ExperimentStatus.RUNNING.value}' "
            f"AND xp.{x['control']} = live.{pk} "
            f"LEFT JOIN {table} candidate ON candidate.{pk} = xp.{x['candidate']}"
        )

    def join_params(self, *, strategy_id: str) -> list[Any]:
        pk = strategy_uuid(strategy_id)
        field = StrategyDefinition._meta.get_field("id")
        bound = field.get_db_prep_value(pk, connection) if pk is not None else None
        return [StrategyStatus.PUBLISHED.value, bound]

    def resolve_cached(
        self, *, realm: Realm, strategy_id: str, values: Sequence[Any]
    ) -> ResolvedStrategy | None:
        live_pk, updated_at, candidate_pk, share, candidate_updated_at = values
        entry = _RESOLVED.get((realm.pk, strategy_id))
        if entry is None or live_pk is None:
            return None
        cached_pk, cached_updated_at, cached_experiment, resolved = entry
        to_uuid = StrategyDefinition._meta.get_field("id").to_python
        if cached_pk != to_uuid(live_pk) or cached_updated_at != _updated_at(updated_at):
            return None
        experiment = (
            None
            if candidate_pk is None
            else (to_uuid(candidate_pk), float(share), _updated_at(candidate_updated_at))
        )
        return resolved if experiment == cached_experiment else None


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


# -- experiments -------------------------------------------------------------------------------
#: Who started and who stopped (or promoted) an experiment.
EXPERIMENT_ACTORS = ("started_by", "started_by_key", "stopped_by", "stopped_by_key")


def experiment_of_family(*, strategy: StrategyDefinition) -> StrategyExperiment | None:
    """Return the experiment of ``strategy``'s family that runs, else the last one that ran.

    A family runs one experiment at a time, so the latest started is the running one if any.
    """
    return (
        StrategyExperiment.objects.filter(realm_id=strategy.realm_id, name=strategy.name)
        .select_related("realm", "control", "candidate", *EXPERIMENT_ACTORS)
        .order_by("-started_at")
        .first()
    )


def experiment_get(*, strategy: StrategyDefinition) -> StrategyExperiment:
    """Return the experiment of ``strategy``'s family (:func:`experiment_of_family`) or a 404."""
    experiment = experiment_of_family(strategy=strategy)
    if experiment is None:
        raise ExperimentNotFound(f"{strategy.name!r} has never run an experiment.")
    return experiment


def experiment_candidate_running(*, strategy: StrategyDefinition) -> bool:
    """Whether ``strategy`` is the candidate of a running experiment (and so frozen)."""
    return StrategyExperiment.objects.filter(
        candidate_id=strategy.pk, status=ExperimentStatus.RUNNING
    ).exists()


@dataclass(frozen=True, slots=True)
class ArmFigures:
    """One arm of an experiment: its awards' points (exact) and its logged runs."""

    arm: str
    strategy: StrategyDefinition
    awards: int
    mean_points: float | None
    mean_points_ci95: Interval | None
    #: The execution-log figures; None when no reader of them is installed.
    runs: ArmRuns | None


@dataclass(frozen=True, slots=True)
class ExperimentReport:
    """The state of an experiment with each arm's figures over ``[since, until)``."""

    experiment: StrategyExperiment
    since: datetime
    until: datetime
    control: ArmFigures
    candidate: ArmFigures
    #: candidate - control: Welch's test of the mean points; None below two awards an arm.
    comparison: WelchTest | None


def _arm_samples(
    *, experiment: StrategyExperiment, since: datetime, until: datetime
) -> dict[str, Sample]:
    """Return each arm's count, mean and sample variance of points, from its Award rows."""
    versions: dict[str, str] = {
        ExperimentArm.CONTROL: str(experiment.control.version),
        ExperimentArm.CANDIDATE: str(experiment.candidate.version),
    }
    rows = (
        Award.objects.filter(
            realm_id=experiment.realm_id,
            strategy_id__in=strategy_family_ids(strategy=experiment.control),
            experiment_arm__isnull=False,
            created_at__gte=since,
            created_at__lt=until,
        )
        .filter(
            Q(experiment_arm=ExperimentArm.CONTROL, strategy_version=versions["control"])
            | Q(experiment_arm=ExperimentArm.CANDIDATE, strategy_version=versions["candidate"])
        )
        .order_by()
        .values("experiment_arm")
        .annotate(n=Count("pk"), mean=Avg("points"), variance=Variance("points", sample=True))
    )
    found = {row["experiment_arm"]: row for row in rows}
    return {
        arm: Sample(
            n=found[arm]["n"] if arm in found else 0,
            mean=found[arm]["mean"] if arm in found else None,
            variance=found[arm]["variance"] if arm in found else None,
        )
        for arm in versions
    }


def experiment_report(
    *, experiment: StrategyExperiment, now: datetime | None = None
) -> ExperimentReport:
    """Return the experiment's figures from its start to its end (or ``now`` while it runs).

    Mean points are exact: every award is stored with its arm. Runs, error rates and p95
    durations come from the execution logs, where ok runs are sampled: each sampled row
    weighs 1 / its sample rate.
    """
    since = experiment.started_at
    until = experiment.stopped_at or now or timezone.now()
    samples = _arm_samples(experiment=experiment, since=since, until=until)
    reader = arm_runs_reader()

    def figures(arm: str, strategy: StrategyDefinition) -> ArmFigures:
        sample = samples[arm]
        runs = None
        if reader is not None:
            runs = reader(
                realm=experiment.realm, definition_id=strategy.pk, since=since, until=until
            )
        return ArmFigures(
            arm=arm,
            strategy=strategy,
            awards=sample.n,
            mean_points=sample.mean,
            mean_points_ci95=mean_interval(sample),
            runs=runs,
        )

    return ExperimentReport(
        experiment=experiment,
        since=since,
        until=until,
        control=figures(ExperimentArm.CONTROL, experiment.control),
        candidate=figures(ExperimentArm.CANDIDATE, experiment.candidate),
        comparison=welch_test(samples[ExperimentArm.CONTROL], samples[ExperimentArm.CANDIDATE]),
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
