"""Writes of custom strategies: the only code that creates or changes StrategyDefinition rows.

Every transition of a family (the versions sharing a realm and a name) first locks all of the
family's rows, so concurrent publishes, edits and rollbacks of one family run one after the
other and the database's partial unique index never sees two PUBLISHED rows.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from gamification.models import ApiKey, Game, Realm, Task, WebhookEventType
from gamification.strategy_ids import custom_strategy_id, strategy_uuid
from gamification.webhooks import webhook_event_emit
from strategies.errors import (
    ExperimentConflict,
    ExperimentError,
    StrategyArchived,
    StrategyDefinitionNotFound,
    StrategyError,
    StrategyInvalid,
    StrategyNameTaken,
    StrategyStateConflict,
    StrategyVersionNotFound,
)
from strategies.models import (
    BUNDLE_FORMAT,
    ExperimentStatus,
    StrategyDefinition,
    StrategyExperiment,
    StrategyStatus,
)
from strategies.programs import program_check, strategy_shape_check

if TYPE_CHECKING:
    # ``User`` is what the stubs resolve AUTH_USER_MODEL, and so ``request.user``, to.
    from django.contrib.auth.models import AnonymousUser, User

#: Fields an edit may change; the name is the family's identity and never changes.
EDITABLE_FIELDS = frozenset(
    {"description", "type", "parent_strategy_id", "ast_json", "blockly_xml", "experiment_tag"}
)


@dataclass(frozen=True, slots=True)
class EditOutcome:
    """The row an edit wrote and whether it is a new version (the edited one was published)."""

    strategy: StrategyDefinition
    created: bool


@dataclass(frozen=True, slots=True)
class Switch:
    """What a publish or rollback did: the version now live and the consumers that follow."""

    strategy: StrategyDefinition
    previous: StrategyDefinition | None
    games: int
    tasks: int


def _creator(actor: User | AnonymousUser | None) -> User | None:
    """The signed-in user a row records as the actor; None for anonymous or API writes."""
    return actor if actor is not None and actor.is_authenticated else None


def _program_store(row: StrategyDefinition, *, allow_invalid: bool) -> None:
    """Validate the row's program; store the id-filled AST, or refuse it unless allowed.

    A draft may have no program yet; it cannot be published until it has a valid one.
    """
    check = program_check(parent_strategy_id=row.parent_strategy_id, ast_json=row.ast_json)
    if not check.ok and not allow_invalid and row.ast_json is not None:
        raise StrategyInvalid(check.issues)
    if check.ast is not None:
        row.ast_json = check.ast
    row.validation_errors = check.errors


def _family_lock(*, realm_id: int, name: str) -> list[StrategyDefinition]:
    """Lock and return every version of a family, oldest first."""
    family = (
        StrategyDefinition.objects.select_for_update()
        .filter(realm_id=realm_id, name=name)
        .order_by("version")
    )
    # The first read waits for a concurrent transition of the family; its snapshot predates
    # that transition's commit, so read again to see (and lock) the versions it inserted.
    list(family)
    return list(family.all())


def _bound_ids(family: list[StrategyDefinition]) -> list[str]:
    return [custom_strategy_id(row.pk) for row in family]


def _consumers_switch(
    *, realm_id: int, family: list[StrategyDefinition], target: StrategyDefinition
) -> tuple[int, int]:
    """Point every game and task bound to a version of the family at ``target``."""
    old_ids = [i for i in _bound_ids(family) if i != target.strategy_id]
    if not old_ids:
        return 0, 0
    now = timezone.now()
    games = Game.objects.filter(realm_id=realm_id, strategy_id__in=old_ids).update(
        strategy_id=target.strategy_id, updated_at=now
    )
    tasks = Task.objects.filter(game__realm_id=realm_id, strategy_id__in=old_ids).update(
        strategy_id=target.strategy_id, updated_at=now
    )
    return games, tasks


def strategy_name_check(*, realm: Realm, name: str) -> None:
    """Refuse a family name the realm already uses (the unique index settles races)."""
    if StrategyDefinition.objects.filter(realm=realm, name=name).exists():
        raise StrategyNameTaken(f"A strategy named {name!r} already exists.")


def strategy_create(
    *,
    realm: Realm,
    name: str,
    type: str,
    ast_json: Any = None,
    parent_strategy_id: str | None = None,
    description: str = "",
    blockly_xml: str = "",
    experiment_tag: str | None = None,
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
    allow_invalid: bool = False,
) -> StrategyDefinition:
    """Create version 1 of a new family as a DRAFT.

    ``allow_invalid`` (the designer's editor) keeps a program that does not validate, with its
    issues; such a draft cannot be published.
    """
    row = StrategyDefinition(
        realm=realm,
        name=name,
        description=description or "",
        type=type,
        parent_strategy_id=strategy_shape_check(type=type, parent_strategy_id=parent_strategy_id),
        ast_json=ast_json,
        blockly_xml=blockly_xml or "",
        experiment_tag=experiment_tag or None,
        version=1,
        status=StrategyStatus.DRAFT,
        created_by=_creator(actor),
        api_key_used=api_key,
    )
    strategy_name_check(realm=realm, name=name)
    _program_store(row, allow_invalid=allow_invalid)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        raise StrategyNameTaken(f"A strategy named {name!r} already exists.") from None
    return row


@transaction.atomic
def strategy_edit(
    *,
    strategy: StrategyDefinition,
    changes: Mapping[str, Any],
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
    allow_invalid: bool = False,
) -> EditOutcome:
    """Edit a DRAFT in place; editing a PUBLISHED version writes version+1 as a DRAFT instead.

    ARCHIVED versions are read-only.
    """
    changes = dict(changes)
    if "name" in changes and changes.pop("name") != strategy.name:
        raise StrategyError(
            "The name identifies the strategy's family and cannot change; duplicate it instead.",
            code="STRATEGY_NAME_IMMUTABLE",
            field="name",
        )
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise StrategyError(f"Cannot edit {', '.join(sorted(unknown))}.", code="FIELD_READ_ONLY")
    family = _family_lock(realm_id=strategy.realm_id, name=strategy.name)
    current = next(row for row in family if row.pk == strategy.pk)
    if current.status == StrategyStatus.ARCHIVED:
        raise StrategyArchived(
            f"Version {current.version} of {current.name!r} is archived and read-only; "
            "roll back to it or edit the current version."
        )
    if current.status == StrategyStatus.DRAFT and _experiment_of_candidate(current) is not None:
        raise ExperimentConflict(
            f"Version {current.version} of {current.name!r} is the candidate of a running "
            "experiment and cannot change; stop the experiment to edit it.",
            code="EXPERIMENT_CANDIDATE_LOCKED",
        )
    created = current.status == StrategyStatus.PUBLISHED
    if created:
        row = StrategyDefinition(
            realm_id=current.realm_id,
            name=current.name,
            description=current.description,
            type=current.type,
            parent_strategy_id=current.parent_strategy_id,
            ast_json=current.ast_json,
            blockly_xml=current.blockly_xml,
            experiment_tag=current.experiment_tag,
            version=max(r.version for r in family) + 1,
            status=StrategyStatus.DRAFT,
            created_by=_creator(actor),
            api_key_used=api_key,
        )
    else:
        row = current
        if api_key is not None:
            row.api_key_used = api_key
    for field_name, value in changes.items():
        setattr(row, field_name, value)
    row.description = row.description or ""
    row.blockly_xml = row.blockly_xml or ""
    row.experiment_tag = row.experiment_tag or None
    row.parent_strategy_id = strategy_shape_check(
        type=row.type, parent_strategy_id=row.parent_strategy_id
    )
    _program_store(row, allow_invalid=allow_invalid)
    row.save(force_insert=created)
    return EditOutcome(strategy=row, created=created)


@transaction.atomic
def strategy_publish(
    *,
    strategy: StrategyDefinition,
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
) -> Switch:
    """Publish a version: validate it again, archive the published sibling, move consumers over."""
    family = _family_lock(realm_id=strategy.realm_id, name=strategy.name)
    target = next(row for row in family if row.pk == strategy.pk)
    if target.status == StrategyStatus.PUBLISHED:
        return Switch(strategy=target, previous=None, games=0, tasks=0)
    # Publishing an ARCHIVED version is the same as rolling back to it.
    return _make_live(family=family, target=target, actor=actor, api_key=api_key)


#: The fields a transition writes besides the program's.
_PUBLISHED_FIELDS = ["published_at", "published_by", "published_by_key"]
_ARCHIVED_FIELDS = ["archived_at", "archived_by", "archived_by_key"]


def _archived_mark(
    row: StrategyDefinition,
    *,
    actor: User | AnonymousUser | None,
    api_key: ApiKey | None,
    now: datetime | None = None,
    superseded_by: StrategyDefinition | None = None,
) -> None:
    """Archive ``row`` and tell the realm's webhooks (in the caller's transaction)."""
    row.status = StrategyStatus.ARCHIVED
    row.archived_at = now or timezone.now()
    row.archived_by = _creator(actor)
    row.archived_by_key = api_key
    row.save(update_fields=["status", *_ARCHIVED_FIELDS, "updated_at"])
    data = _event_data(row, actor=actor, api_key=api_key)
    data["supersededByVersion"] = superseded_by.version if superseded_by is not None else None
    webhook_event_emit(
        realm=row.realm, type=WebhookEventType.STRATEGY_ARCHIVED, data=data, at=row.archived_at
    )


def _event_data(
    row: StrategyDefinition, *, actor: User | AnonymousUser | None, api_key: ApiKey | None
) -> dict[str, Any]:
    """The ``data`` of a strategy's webhook event (camelCase: it goes on the wire)."""
    user = _creator(actor)
    return {
        "strategyId": row.strategy_id,
        "name": row.name,
        "version": row.version,
        "type": row.type,
        "status": row.status,
        "actor": (
            {"type": "user", "name": user.get_username()}
            if user is not None
            else {"type": "apiKey", "name": api_key.name, "prefix": api_key.prefix}
            if api_key is not None
            else None
        ),
    }


def _make_live(
    *,
    family: list[StrategyDefinition],
    target: StrategyDefinition,
    actor: User | AnonymousUser | None,
    api_key: ApiKey | None,
) -> Switch:
    """Validate ``target`` and make it the family's PUBLISHED version (family rows are locked).

    The actor is recorded as the publisher of ``target`` and the archiver of the version it
    replaces; ``target``'s own earlier archive is forgotten, it is live again. A running
    experiment of the family ends: promoted when ``target`` is its candidate, else stopped.
    """
    _program_store(target, allow_invalid=False)
    if target.ast_json is None:
        raise StrategyInvalid(target.validation_errors)
    previous = next((row for row in family if row.status == StrategyStatus.PUBLISHED), None)
    now = timezone.now()
    experiment = _experiment_running(realm_id=target.realm_id, name=target.name)
    if experiment is not None:
        # The control stops being the published version: the experiment is over, won by the
        # candidate if that is what goes live.
        outcome = (
            ExperimentStatus.PROMOTED
            if experiment.candidate_id == target.pk
            else ExperimentStatus.STOPPED
        )
        _experiment_end(experiment, status=outcome, actor=actor, api_key=api_key, now=now)
    if previous is not None:
        _archived_mark(previous, actor=actor, api_key=api_key, now=now, superseded_by=target)
    target.status = StrategyStatus.PUBLISHED
    target.published_at = now
    target.published_by = _creator(actor)
    target.published_by_key = api_key
    target.archived_at = target.archived_by = target.archived_by_key = None
    target.save(
        update_fields=[
            "status",
            *_PUBLISHED_FIELDS,
            *_ARCHIVED_FIELDS,
            "ast_json",
            "validation_errors",
            "updated_at",
        ]
    )
    games, tasks = _consumers_switch(realm_id=target.realm_id, family=family, target=target)
    data = _event_data(target, actor=actor, api_key=api_key)
    data.update(
        previousVersion=previous.version if previous is not None else None,
        switchedGames=games,
        switchedTasks=tasks,
    )
    webhook_event_emit(
        realm=target.realm, type=WebhookEventType.STRATEGY_PUBLISHED, data=data, at=now
    )
    return Switch(strategy=target, previous=previous, games=games, tasks=tasks)


@transaction.atomic
def strategy_archive(
    *,
    strategy: StrategyDefinition,
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
) -> StrategyDefinition:
    """Archive a version; archiving the PUBLISHED one is the kill switch (no more scoring).

    Archiving the control or the candidate of a running experiment stops the experiment.
    """
    family = _family_lock(realm_id=strategy.realm_id, name=strategy.name)
    target = next(row for row in family if row.pk == strategy.pk)
    if target.status != StrategyStatus.ARCHIVED:
        experiment = _experiment_running(realm_id=target.realm_id, name=target.name)
        if experiment is not None and target.pk in (experiment.control_id, experiment.candidate_id):
            _experiment_end(
                experiment, status=ExperimentStatus.STOPPED, actor=actor, api_key=api_key
            )
        _archived_mark(target, actor=actor, api_key=api_key)
    return target


@transaction.atomic
def strategy_rollback(
    *,
    strategy: StrategyDefinition,
    version: int,
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
) -> Switch:
    """Make an earlier version of ``strategy``'s family live again; consumers follow."""
    family = _family_lock(realm_id=strategy.realm_id, name=strategy.name)
    target = next((row for row in family if row.version == version), None)
    if target is None:
        raise StrategyVersionNotFound(f"{strategy.name!r} has no version {version}.")
    if target.status == StrategyStatus.PUBLISHED:
        return Switch(strategy=target, previous=None, games=0, tasks=0)
    if target.status == StrategyStatus.DRAFT:
        raise StrategyStateConflict(
            f"Version {version} is a draft that was never published; publish it instead."
        )
    return _make_live(family=family, target=target, actor=actor, api_key=api_key)


#: The lifecycle transitions the designer's admin offers, by permission codename.
TRANSITIONS = ("publish", "archive", "rollback")


def strategy_transition(
    *,
    strategy: StrategyDefinition,
    action: str,
    version: int | None = None,
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
) -> Switch:
    """Publish, archive, or roll ``strategy``'s family back to ``version``.

    An archive moves no consumer: its switch names the archived version and zero counts.
    """
    if action == "publish":
        return strategy_publish(strategy=strategy, actor=actor, api_key=api_key)
    if action == "archive":
        row = strategy_archive(strategy=strategy, actor=actor, api_key=api_key)
        return Switch(strategy=row, previous=None, games=0, tasks=0)
    if action == "rollback":
        target = strategy.version if version is None else version
        return strategy_rollback(strategy=strategy, version=target, actor=actor, api_key=api_key)
    raise StrategyError(f"Unknown transition {action!r}.", code="TRANSITION_UNKNOWN")


@dataclass(frozen=True, slots=True)
class PublishAttempt:
    """One draft of a bulk publish: its switch, or why it was refused."""

    strategy: StrategyDefinition
    switch: Switch | None
    error: StrategyError | None = None


def strategy_publish_drafts(
    *,
    strategies: QuerySet[StrategyDefinition],
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
) -> list[PublishAttempt]:
    """Publish each DRAFT among ``strategies``, one transaction each; refusals are reported."""
    attempts = []
    for row in strategies.filter(status=StrategyStatus.DRAFT):
        try:
            switch = strategy_publish(strategy=row, actor=actor, api_key=api_key)
        except StrategyError as error:
            attempts.append(PublishAttempt(row, None, error))
        else:
            attempts.append(PublishAttempt(row, switch))
    return attempts


def strategy_archive_many(
    *,
    strategies: QuerySet[StrategyDefinition],
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
) -> list[StrategyDefinition]:
    """Archive every version among ``strategies`` that is not archived yet."""
    return [
        strategy_archive(strategy=row, actor=actor, api_key=api_key)
        for row in strategies.exclude(status=StrategyStatus.ARCHIVED)
    ]


def _name_free(*, realm: Realm, name: str) -> str:
    taken = set(
        StrategyDefinition.objects.filter(realm=realm, name__startswith=name).values_list(
            "name", flat=True
        )
    )
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name} ({n})"
    return candidate


def strategy_duplicate(
    *,
    strategy: StrategyDefinition,
    name: str | None = None,
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
) -> StrategyDefinition:
    """Copy a version into a new family (version 1, DRAFT)."""
    return strategy_create(
        realm=strategy.realm,
        name=name or _name_free(realm=strategy.realm, name=f"{strategy.name} copy"),
        type=strategy.type,
        parent_strategy_id=strategy.parent_strategy_id,
        ast_json=strategy.ast_json,
        description=strategy.description,
        blockly_xml=strategy.blockly_xml,
        experiment_tag=strategy.experiment_tag,
        actor=actor,
        api_key=api_key,
        allow_invalid=True,
    )


def strategy_import(
    *,
    realm: Realm,
    bundle: Mapping[str, Any],
    name: str | None = None,
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
) -> StrategyDefinition:
    """Create a DRAFT from an exported bundle: a new family, or the next version of one.

    ``bundle`` has the keys of ``strategies.selectors.Bundle`` (snake_case).
    """
    if bundle.get("format", BUNDLE_FORMAT) != BUNDLE_FORMAT:
        raise StrategyError(
            f"Unknown bundle format {bundle.get('format')!r}.", code="BUNDLE_FORMAT_UNKNOWN"
        )
    name = name or bundle.get("name")
    if not isinstance(name, str) or not name.strip():
        raise StrategyError("The bundle has no name.", code="BUNDLE_INVALID", field="name")
    fields: dict[str, Any] = {
        "type": bundle.get("type"),
        "parent_strategy_id": bundle.get("parent_strategy_id"),
        "ast_json": bundle.get("ast_json"),
        "description": bundle.get("description") or "",
        "blockly_xml": bundle.get("blockly_xml") or "",
        "experiment_tag": bundle.get("experiment_tag"),
    }
    with transaction.atomic():
        family = _family_lock(realm_id=realm.pk, name=name)
        if not family:
            return strategy_create(realm=realm, name=name, actor=actor, api_key=api_key, **fields)
        row = StrategyDefinition(
            realm=realm,
            name=name,
            version=max(r.version for r in family) + 1,
            status=StrategyStatus.DRAFT,
            created_by=_creator(actor),
            api_key_used=api_key,
            **fields,
        )
        row.parent_strategy_id = strategy_shape_check(
            type=row.type, parent_strategy_id=row.parent_strategy_id
        )
        _program_store(row, allow_invalid=False)
        row.save(force_insert=True)
        return row


# -- experiments ------------------------------------------------------------------------------
def _experiment_running(*, realm_id: int, name: str) -> StrategyExperiment | None:
    """Return the family's running experiment, locked (the caller holds the family's lock)."""
    return (
        StrategyExperiment.objects.select_for_update()
        .filter(realm_id=realm_id, name=name, status=ExperimentStatus.RUNNING)
        .first()
    )


def _experiment_of_candidate(candidate: StrategyDefinition) -> StrategyExperiment | None:
    return StrategyExperiment.objects.filter(
        candidate_id=candidate.pk, status=ExperimentStatus.RUNNING
    ).first()


def _experiment_end(
    experiment: StrategyExperiment,
    *,
    status: ExperimentStatus,
    actor: User | AnonymousUser | None,
    api_key: ApiKey | None,
    now: datetime | None = None,
) -> None:
    experiment.status = status
    experiment.stopped_at = now or timezone.now()
    experiment.stopped_by = _creator(actor)
    experiment.stopped_by_key = api_key
    experiment.save(update_fields=["status", "stopped_at", "stopped_by", "stopped_by_key"])


def _share_check(share: float) -> float:
    if isinstance(share, bool) or not isinstance(share, int | float):
        raise ExperimentError(
            "The share must be a number.", code="EXPERIMENT_SHARE_INVALID", field="share"
        )
    if not (math.isfinite(share) and 0 < share < 1):
        raise ExperimentError(
            f"The share must lie strictly between 0 and 1, not {share!r}: 0 would test "
            "nothing and 1 is a publish (promote the candidate instead).",
            code="EXPERIMENT_SHARE_INVALID",
            field="share",
        )
    return float(share)


def _candidate_find(
    *, family: list[StrategyDefinition], realm_id: int, candidate_id: uuid.UUID | str
) -> StrategyDefinition:
    """Return the candidate among the family's locked rows; else say why it is not there."""
    pk = strategy_uuid(str(candidate_id))
    candidate = next((row for row in family if row.pk == pk), None)
    if candidate is not None:
        return candidate
    if pk is not None and StrategyDefinition.objects.filter(pk=pk, realm_id=realm_id).exists():
        raise ExperimentError(
            "The candidate must be a version of the same strategy family.",
            code="EXPERIMENT_CANDIDATE_OTHER_FAMILY",
            field="candidateId",
        )
    raise StrategyDefinitionNotFound(
        f"No custom strategy {str(candidate_id)!r}.", field="candidateId"
    )


@transaction.atomic
def experiment_start(
    *,
    strategy: StrategyDefinition,
    candidate_id: uuid.UUID | str,
    share: float,
    tag: str,
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
) -> StrategyExperiment:
    """Start an experiment of ``strategy``'s family: its published version against a draft.

    ``strategy`` is any version of the family. The candidate must be a DRAFT of the same family
    whose program validates; it scores for the players whose assignment point falls below
    ``share`` (strictly between 0 and 1) until the experiment is stopped or promoted. ``tag``
    is written to both versions' ``experiment_tag``.
    """
    share = _share_check(share)
    family = _family_lock(realm_id=strategy.realm_id, name=strategy.name)
    candidate = _candidate_find(
        family=family, realm_id=strategy.realm_id, candidate_id=candidate_id
    )
    control = next((row for row in family if row.status == StrategyStatus.PUBLISHED), None)
    if control is None:
        raise ExperimentConflict(
            f"{strategy.name!r} has no published version to serve as the control.",
            code="EXPERIMENT_NO_PUBLISHED_VERSION",
        )
    if candidate.pk == control.pk:
        raise ExperimentError(
            "The candidate is the published version, which is the control; pick a draft.",
            code="EXPERIMENT_CANDIDATE_IS_CONTROL",
            field="candidateId",
        )
    if candidate.status == StrategyStatus.ARCHIVED:
        raise ExperimentConflict(
            f"Version {candidate.version} is archived; an experiment tests a draft.",
            code="EXPERIMENT_CANDIDATE_ARCHIVED",
            field="candidateId",
        )
    if _experiment_running(realm_id=strategy.realm_id, name=strategy.name) is not None:
        raise ExperimentConflict(
            f"{strategy.name!r} already runs an experiment; stop or promote it first.",
            code="EXPERIMENT_ALREADY_RUNNING",
        )
    _program_store(candidate, allow_invalid=False)
    if candidate.ast_json is None:
        raise StrategyInvalid(candidate.validation_errors)
    experiment = StrategyExperiment(
        realm_id=strategy.realm_id,
        name=strategy.name,
        control=control,
        candidate=candidate,
        share=share,
        tag=tag,
        status=ExperimentStatus.RUNNING,
        started_at=timezone.now(),
        started_by=_creator(actor),
        started_by_key=api_key,
    )
    try:
        with transaction.atomic():
            experiment.save(force_insert=True)
    except IntegrityError:  # the partial unique index: one running experiment per family
        raise ExperimentConflict(
            f"{strategy.name!r} already runs an experiment; stop or promote it first.",
            code="EXPERIMENT_ALREADY_RUNNING",
        ) from None
    control.experiment_tag = candidate.experiment_tag = tag
    control.save(update_fields=["experiment_tag", "updated_at"])
    candidate.save(update_fields=["experiment_tag", "ast_json", "validation_errors", "updated_at"])
    return experiment


def _experiment_lock(experiment: StrategyExperiment) -> StrategyExperiment:
    """Lock the experiment's family, then return the experiment as stored, if still running."""
    _family_lock(realm_id=experiment.realm_id, name=experiment.name)
    current = StrategyExperiment.objects.select_for_update().get(pk=experiment.pk)
    if current.status != ExperimentStatus.RUNNING:
        raise ExperimentConflict(
            f"The experiment {current.tag!r} is {current.status}, not running.",
            code="EXPERIMENT_NOT_RUNNING",
        )
    return current


@transaction.atomic
def experiment_stop(
    *,
    experiment: StrategyExperiment,
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
) -> StrategyExperiment:
    """Stop a running experiment: every player scores with the control (published) again."""
    current = _experiment_lock(experiment)
    _experiment_end(current, status=ExperimentStatus.STOPPED, actor=actor, api_key=api_key)
    return current


@dataclass(frozen=True, slots=True)
class Promotion:
    """A promoted experiment and the publish of its candidate."""

    experiment: StrategyExperiment
    switch: Switch


@transaction.atomic
def experiment_promote(
    *,
    experiment: StrategyExperiment,
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
) -> Promotion:
    """Publish the candidate of a running experiment (bound games and tasks follow it) and mark
    the experiment promoted; the control is archived as by any publish."""
    current = _experiment_lock(experiment)
    candidate = StrategyDefinition.objects.get(pk=current.candidate_id)
    switch = strategy_publish(strategy=candidate, actor=actor, api_key=api_key)
    current.refresh_from_db()
    return Promotion(experiment=current, switch=switch)
