"""Writes of execution logs: persist a batch, purge old rows, replay a logged run."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypedDict, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from gamification.errors import DomainError
from observability import metrics
from observability.models import DeadLetterReason, ExecutionLogDeadLetter, StrategyExecutionLog
from observability.observer import trace_truncate
from observability.player_data import late_rows_scrub
from observability.rows import ExecutionLogRow, InvalidRowError, log_from_row
from observability.sink import BoundedValue, row_cut_values, value_bounded
from scoring.builtins.base import ANALYTICS_PATHS, AnalyticsRequest, ScoringEvent
from scoring.builtins.registry import UnknownBuiltinStrategy, builtin_get
from scoring.context import RECENT_PATH, AnalyticsRecord, analytics_replayed
from scoring.engine import strategy_execute
from scoring.strategy_types import ResolvedStrategy, StrategyKind, run_outcome
from strategies.models import StrategyDefinition
from strategies.selectors import strategy_resolve_custom, strategy_version_resolve

logger = logging.getLogger(__name__)


def execution_logs_persist(*, rows: Iterable[ExecutionLogRow]) -> int:
    """Insert a batch of observer-made rows in one statement; return how many were new.

    Primary keys come from the observer, so a redelivered batch conflicts and inserts
    nothing twice. A row whose keys do not match the log's fields raises
    ``InvalidRowError``; :func:`execution_log_rows_persist` dead-letters it instead.
    """
    objects = [_log_object(row) for row in rows]
    if not objects:
        return 0
    late_rows_scrub(objects)
    ids = [obj.pk for obj in objects]
    existing = set(StrategyExecutionLog.objects.filter(pk__in=ids).values_list("pk", flat=True))
    StrategyExecutionLog.objects.bulk_create(objects, ignore_conflicts=True)
    return len(set(ids) - existing)


def _log_object(row: ExecutionLogRow) -> StrategyExecutionLog:
    obj = log_from_row(row)
    # Every conversion the INSERT would make, so a malformed row fails here, alone.
    for field in StrategyExecutionLog._meta.concrete_fields:
        field.get_db_prep_save(getattr(obj, field.attname), connection=db_connection)
    return obj


#: What a malformed row raises while it is turned into a model instance.
_ROW_ERRORS = (
    InvalidRowError,
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    ValidationError,
)


def execution_log_batch_persist(*, payload: bytes | str, batch_id: str = "") -> int:
    """Persist a batch as the sink encoded it; dead-letter what cannot be; return new rows.

    A payload that is not a JSON list is dead-lettered whole; a row that is malformed or
    that the database refuses is dead-lettered alone and the others are inserted. Raises
    ``OperationalError``/``InterfaceError`` when the database is unavailable, so that the
    caller keeps the batch for later.
    """
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    try:
        rows = json.loads(text)
        if not isinstance(rows, list):
            raise ValueError(f"a batch is a JSON list, not {type(rows).__name__}")
    except (ValueError, RecursionError) as error:
        execution_log_dead_letter_create(
            reason=DeadLetterReason.UNDECODABLE,
            detail=_error_text(error),
            payload=text,
            batch_id=batch_id,
            row_count=1,
        )
        return 0
    return execution_log_rows_persist(rows=rows, batch_id=batch_id)


def execution_log_outbox_batch_persist(*, batch_id: str) -> int:
    """Persist the outbox batch ``batch_id`` and remove it; return how many rows were new.

    A batch already persisted (a duplicate announcement) is a no-op. When the database is
    down the batch stays in the outbox, due again after a backoff; when Redis fails midway
    it stays too, and the watchdog announces it again. A batch taken up more than
    ``DSL_EXECUTION_LOG_MAX_ATTEMPTS`` times without finishing killed its worker each time:
    it is dead-lettered instead of being tried forever.
    """
    from redis.exceptions import RedisError

    from observability.outbox import outbox_for_process

    # Batch ids travel only through a broker: without one the sink persists in-process.
    outbox = outbox_for_process(cast(str, settings.CELERY_BROKER_URL))
    try:
        claimed = outbox.claim(batch_id=batch_id)
        if claimed is None:
            return 0
        if claimed.attempts > settings.DSL_EXECUTION_LOG_MAX_ATTEMPTS:
            execution_log_dead_letter_create(
                reason=DeadLetterReason.ATTEMPTS_EXHAUSTED,
                detail=f"taken up {claimed.attempts - 1} times without finishing",
                payload=claimed.payload.decode("utf-8", "replace"),
                batch_id=batch_id,
                row_count=_row_count(claimed.payload),
            )
            outbox.done(batch_id=batch_id)
            return 0
        try:
            inserted = execution_log_batch_persist(payload=claimed.payload, batch_id=batch_id)
        except (OperationalError, InterfaceError) as error:
            db_connection.close()
            metrics.log_batches_failed.labels("database_unavailable").inc()
            backoff = outbox.defer(
                batch_id=batch_id, backoff_max=settings.DSL_EXECUTION_LOG_RETRY_BACKOFF_MAX
            )
            logger.warning(
                "Database unavailable; batch %s due again in %.0f s: %r", batch_id, backoff, error
            )
            return 0
        metrics.log_rows_persisted.inc(inserted)
        outbox.done(batch_id=batch_id)
        return inserted
    except RedisError as error:
        logger.warning("Outbox unavailable for batch %s; it stays due: %r", batch_id, error)
        return 0


def _row_count(payload: bytes) -> int:
    """Count the rows of a payload without trusting it (each row is one ``{"id":``)."""
    return max(1, payload.count(b'{"id":'))


def execution_log_rows_persist(*, rows: list[Any], batch_id: str = "") -> int:
    """Insert decoded rows; dead-letter each row that is malformed or refused."""
    objects: list[tuple[Any, StrategyExecutionLog]] = []
    for row in rows:
        try:
            objects.append((row, _log_object(row)))
        except _ROW_ERRORS as error:
            _row_dead_letter(row, DeadLetterReason.INVALID_ROW, error, batch_id)
    if not objects:
        return 0
    try:
        with transaction.atomic():
            return execution_logs_persist(rows=[row for row, _ in objects])
    except (OperationalError, InterfaceError):
        raise
    except DatabaseError:
        logger.warning("Execution-log batch %s refused; inserting its rows one by one", batch_id)
    inserted = 0
    for row, _ in objects:
        try:
            with transaction.atomic():
                inserted += execution_logs_persist(rows=[row])
        except (OperationalError, InterfaceError):
            raise
        except DatabaseError as error:
            _row_dead_letter(row, DeadLetterReason.REFUSED_BY_DATABASE, error, batch_id)
    return inserted


def _row_dead_letter(row: Any, reason: str, error: BaseException, batch_id: str) -> None:
    mapping = row if isinstance(row, Mapping) else {}
    row_id = mapping.get("id")
    realm_id = mapping.get("realm_id")
    try:
        parsed_id = uuid.UUID(str(row_id)) if row_id is not None else None
    except ValueError:
        parsed_id = None
    execution_log_dead_letter_create(
        reason=reason,
        detail=_error_text(error),
        payload=json.dumps(row, default=str),
        batch_id=batch_id,
        row_id=parsed_id,
        realm_id=realm_id if isinstance(realm_id, int) and not isinstance(realm_id, bool) else None,
    )


def execution_log_dead_letter_create(
    *,
    reason: str,
    detail: str,
    payload: str,
    batch_id: str = "",
    row_id: uuid.UUID | None = None,
    row_count: int = 1,
    realm_id: int | None = None,
) -> ExecutionLogDeadLetter:
    """Keep what the worker could not persist, with the reason; count it."""
    limit = settings.DSL_EXECUTION_LOG_DEAD_LETTER_BYTES
    size = len(payload.encode("utf-8", "replace"))
    # PostgreSQL text cannot hold NUL; a payload as received may.
    kept = payload[:limit].replace("\x00", "\\u0000")
    letter = ExecutionLogDeadLetter.objects.create(
        reason=reason,
        detail=detail[:2000],
        payload=kept.encode("utf-8", "replace").decode("utf-8"),
        payload_bytes=size,
        batch_id=batch_id,
        row_id=row_id,
        row_count=row_count,
        realm_id=realm_id,
    )
    metrics.log_rows_dead_lettered.labels(reason).inc(row_count)
    logger.error("Execution-log rows dead-lettered (%s): %s", reason, detail[:200])
    return letter


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def execution_logs_purge(*, older_than_days: int, batch_size: int = 10_000) -> int:
    """Delete rows older than ``older_than_days`` in bounded batches; return how many."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted = 0
    while True:
        with transaction.atomic():
            # A bounded id list keeps every DELETE short, so the purge never holds locks
            # or bloats one transaction; the BRIN index on created_at finds the old range.
            ids = list(
                StrategyExecutionLog.objects.filter(created_at__lt=cutoff)
                .order_by()
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return deleted
            count, _ = StrategyExecutionLog.objects.filter(pk__in=ids).delete()
        deleted += count
        if len(ids) < batch_size:
            return deleted


class ReplayOutcome(TypedDict):
    """What one run of a logged input did: the logged run, or a re-run of it.

    A re-run's values are cut and JSON-encoded as the log's were (:func:`_as_logged`), so a
    re-run that did what the logged run did compares equal to it, key for key.
    """

    strategy_version: str
    status: str
    points: float | None
    case_name: str | None
    #: None for a failed run, as the log keeps it.
    callback_data: dict[str, Any] | None
    error_code: str | None
    error_node_id: str | None
    duration_ms: float
    nodes_executed: int
    trace: list[dict[str, Any]] | None
    parent_data: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ReplayInputs:
    """What a re-run is given: the logged event and the analytics the logged run read."""

    event: ScoringEvent
    analytics: AnalyticsRecord
    #: Why a re-run may differ although nothing changed (inputs the log cut or lacks).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Replay:
    """A logged run beside its re-runs on the version that ran and on the current one.

    A version that cannot be run has no outcome and says why in its ``*_problem``.
    """

    logged: ReplayOutcome
    version_that_ran: ReplayOutcome | None
    current: ReplayOutcome | None
    inputs: ReplayInputs
    version_that_ran_problem: str | None = None
    current_problem: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Target:
    strategy: ResolvedStrategy | None
    problem: str | None = None


def _points(value: float | None) -> float | None:
    """Points as the log stores them (a float column)."""
    return None if value is None else float(value)


def _as_logged(name: BoundedValue, value: Any) -> Any:
    """Return ``value`` as a log row keeps it: cut to the row's budget, then through JSON."""
    if value is None:
        return None
    return json.loads(json.dumps(value_bounded(name, value).value, default=str))


def _logged_result(log: StrategyExecutionLog) -> ReplayOutcome:
    return ReplayOutcome(
        strategy_version=log.strategy_version,
        status=log.status,
        points=_points(log.points),
        case_name=log.case_name,
        callback_data=log.callback_data,
        error_code=log.error_code,
        error_node_id=log.error_node_id,
        duration_ms=log.duration_ms,
        nodes_executed=log.nodes_executed,
        trace=log.trace,
        parent_data=log.parent_data,
    )


def _replay_inputs(log: StrategyExecutionLog) -> ReplayInputs:
    notes: list[str] = []
    cut = row_cut_values(log.notes) & {"data", "analytics"}
    if cut:
        notes.append(
            f"The log cut this run's {' and '.join(sorted(cut))} to its budget: a re-run "
            "reads the cut values and may differ from the logged run."
        )
    analytics = log.analytics
    if not isinstance(analytics, dict):
        # Rows logged before analytics were recorded hold the values a DSL program read
        # among its fields; a built-in's (or a parent's) are not there.
        fields = log.fields if isinstance(log.fields, dict) else {}
        values = {path: value for path, value in fields.items() if path in ANALYTICS_PATHS}
        windows = {"300": values[RECENT_PATH]} if RECENT_PATH in values else {}
        analytics = AnalyticsRecord(values=values, windows=windows)
        notes.append(
            "This run was logged before its analytics were: a re-run reads the analytics "
            "values among its precomputed fields, and an empty history for the others."
        )
    event = ScoringEvent(
        external_game_id=log.external_game_id,
        external_task_id=log.external_task_id,
        external_user_id=log.external_user_id,
        data=log.data if isinstance(log.data, dict) else {},
    )
    return ReplayInputs(event=event, analytics=cast(AnalyticsRecord, analytics), notes=tuple(notes))


def _builtin_targets(log: StrategyExecutionLog) -> tuple[_Target, _Target]:
    try:
        builtin = builtin_get(log.strategy_id)
    except UnknownBuiltinStrategy:
        gone = _Target(None, f"No built-in {log.strategy_id!r} is deployed any more.")
        return gone, gone
    current = _Target(
        ResolvedStrategy(
            strategy_id=log.strategy_id,
            version=builtin.version,
            kind=StrategyKind.BUILT_IN,
            builtin=builtin,
        )
    )
    if builtin.version != log.strategy_version:
        ran = _Target(
            None,
            f"Built-in {builtin.id!r} is at version {builtin.version} now; the version that "
            f"ran ({log.strategy_version}) is no longer deployed.",
        )
        return ran, current
    return current, current


def _version_target(definition: StrategyDefinition, *, strategy_id: str) -> _Target:
    try:
        return _Target(strategy_version_resolve(strategy=definition, strategy_id=strategy_id))
    except DomainError as error:
        return _Target(None, error.detail)
    except UnknownBuiltinStrategy as error:
        return _Target(None, f"Its parent built-in {error} is no longer deployed.")


def _custom_targets(log: StrategyExecutionLog) -> tuple[_Target, _Target]:
    realm = log.realm
    if realm is None:  # every custom strategy belongs to a realm
        gone = _Target(None, "The run has no realm to find its strategy in.")
        return gone, gone
    definition = (
        StrategyDefinition.objects.filter(pk=log.definition_id, realm_id=realm.pk).first()
        if log.definition_id is not None
        else None
    )
    ran = (
        _version_target(definition, strategy_id=log.strategy_id)
        if definition is not None
        else _Target(None, "The version that ran no longer exists.")
    )
    try:
        current = _Target(strategy_resolve_custom(realm=realm, strategy_id=log.strategy_id))
    except DomainError as error:
        current = _Target(None, error.detail)
    except UnknownBuiltinStrategy as error:
        current = _Target(None, f"Its parent built-in {error} is no longer deployed.")
    return ran, current


def _rerun(
    *, strategy: ResolvedStrategy, inputs: ReplayInputs
) -> tuple[ReplayOutcome, AnalyticsRequest]:
    """Run ``strategy`` on the logged inputs; return the outcome and the analytics it read
    that the log did not hold."""
    missing = AnalyticsRequest()

    def load(request: AnalyticsRequest) -> Any:
        nonlocal missing
        answer = analytics_replayed(inputs.analytics, request=request)
        missing = missing | answer.missing
        return answer.analytics

    run = strategy_execute(strategy=strategy, event=inputs.event, analytics_loader=load, trace=True)
    outcome = run_outcome(run)
    trace, _ = trace_truncate(run.trace, settings.DSL_EXECUTION_LOG_TRACE_LIMIT)
    result = ReplayOutcome(
        strategy_version=str(strategy.version),
        status=outcome["status"],
        points=_points(outcome["points"]),
        case_name=outcome["case_name"],
        callback_data=(_as_logged("callback_data", outcome["callback_data"]) if run.ok else None),
        error_code=outcome["error_code"],
        error_node_id=outcome["error_node_id"],
        duration_ms=round(outcome["duration_ms"], 3),
        nodes_executed=outcome["nodes_executed"],
        trace=_as_logged("trace", trace),
        parent_data=_as_logged("parent_data", run.parent_data),
    )
    return result, missing


def _missing_note(version: str, missing: AnalyticsRequest) -> str:
    read = sorted(missing.paths) + [
        f"recent count over {s} s" for s in sorted(missing.recent_windows)
    ]
    return (
        f"Version {version} read analytics the log does not hold ({', '.join(read)}): they "
        "were taken as an empty history."
    )


def execution_log_replay(*, log: StrategyExecutionLog) -> Replay:
    """Re-run a logged run's input on the version that ran and on the current version.

    A re-run reads what the logged run read: its event data and the analytics values it was
    given (a built-in's and a DSL_EXTEND parent's too), so the version that ran does again
    what it did (save a timeout, which depends on the machine). "Current" is what the
    strategy id resolves to now: the family's published version, or the deployed built-in.
    A version that cannot be found or run is reported, not raised.
    """
    inputs = _replay_inputs(log)
    if log.strategy_type == StrategyKind.BUILT_IN:
        targets = _builtin_targets(log)
    else:
        targets = _custom_targets(log)
    notes = list(inputs.notes)
    outcomes: list[ReplayOutcome | None] = []
    problems: list[str | None] = []
    done: dict[tuple[str, str], ReplayOutcome] = {}
    for target in targets:
        strategy = target.strategy
        if strategy is None:
            outcomes.append(None)
            problems.append(target.problem)
            continue
        key = (str(strategy.definition_id or strategy.strategy_id), str(strategy.version))
        if key in done:  # the version that ran is the current one
            outcomes.append(done[key])
            problems.append(None)
            continue
        try:
            outcome, missing = _rerun(strategy=strategy, inputs=inputs)
        except Exception as error:
            logger.exception("Replay of execution log %s failed", log.pk)
            outcomes.append(None)
            problems.append(f"The re-run failed: {type(error).__name__}: {error}")
            continue
        done[key] = outcome
        outcomes.append(outcome)
        problems.append(None)
        if not (missing.paths or missing.recent_windows):
            continue
        note = _missing_note(outcome["strategy_version"], missing)
        if note not in notes:
            notes.append(note)
    return Replay(
        logged=_logged_result(log),
        version_that_ran=outcomes[0],
        current=outcomes[1],
        inputs=inputs,
        version_that_ran_problem=problems[0],
        current_problem=problems[1],
        notes=tuple(notes),
    )
