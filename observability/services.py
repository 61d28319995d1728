"""Writes of execution logs: persist a batch, purge old rows, replay a logged run."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypedDict, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from gamification.errors import DomainError
from observability import metrics
from observability.models import DeadLetterReason, ExecutionLogDeadLetter, StrategyExecutionLog
from observability.rows import ExecutionLogRow, InvalidRowError, log_from_row
from scoring.strategy_types import RunOutcome, StrategyRun, run_outcome

if TYPE_CHECKING:
    from gamification.models import Realm

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
    """What one run of a logged input did: the logged run, or a re-run of it."""

    version: str
    status: str
    points: float | None
    case_name: str | None
    callback_data: dict[str, Any]
    error_code: str | None
    error_node_id: str | None
    duration_ms: float
    nodes_executed: int
    trace: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Replay:
    """A logged run next to its re-runs against the version that ran and the current one."""

    logged: ReplayOutcome
    ran_version: ReplayOutcome | None
    current_version: ReplayOutcome | None
    ran_version_error: str | None = None
    current_version_error: str | None = None


def _logged_result(log: StrategyExecutionLog) -> ReplayOutcome:
    return ReplayOutcome(
        version=log.strategy_version,
        status=log.status,
        points=log.points,
        case_name=log.case_name,
        callback_data=log.callback_data or {},
        error_code=log.error_code,
        error_node_id=log.error_node_id,
        duration_ms=log.duration_ms,
        nodes_executed=log.nodes_executed,
        trace=log.trace or [],
    )


def _replay_outcome(
    outcome: RunOutcome, *, version: str, trace: list[dict[str, Any]]
) -> ReplayOutcome:
    return ReplayOutcome(
        version=version,
        status=outcome["status"],
        points=outcome["points"],
        case_name=outcome["case_name"],
        callback_data=outcome["callback_data"],
        error_code=outcome["error_code"],
        error_node_id=outcome["error_node_id"],
        duration_ms=round(outcome["duration_ms"], 3),
        nodes_executed=outcome["nodes_executed"],
        trace=trace,
    )


def _run_result(run: StrategyRun, *, version: str) -> ReplayOutcome:
    return _replay_outcome(run_outcome(run), version=version, trace=list(run.trace or []))


def _replay_custom(*, log: StrategyExecutionLog, definition: Any) -> ReplayOutcome:
    from strategies.simulation import simulation_run

    simulation = simulation_run(
        realm=definition.realm,
        type=definition.type,
        parent_strategy_id=definition.parent_strategy_id,
        ast_json=definition.ast_json,
        external_user_id=log.external_user_id,
        data=log.data or {},
        mock_state=log.fields or {},
        definition=definition,
    )
    return _replay_outcome(
        simulation.outcome, version=str(definition.version), trace=simulation.trace
    )


def _replay_builtin(*, log: StrategyExecutionLog) -> ReplayOutcome:
    from scoring.builtins.base import ScoringEvent
    from scoring.engine import strategy_execute, strategy_resolve

    fields = dict(log.fields or {})

    class _LoggedAnalytics:
        def get(self, path: str) -> Any:
            return fields.get(path, 0)

        def recent_count(self, seconds: int) -> int:  # noqa: ARG002 - the log holds one count
            return int(fields.get("user.recent_measurements_count", 0) or 0)

    # Only a custom strategy is resolved in its realm: a built-in's row may have none.
    strategy = strategy_resolve(realm=cast("Realm", log.realm), strategy_id=log.strategy_id)
    run = strategy_execute(
        strategy=strategy,
        event=ScoringEvent(
            external_game_id=log.external_game_id,
            external_task_id=log.external_task_id,
            external_user_id=log.external_user_id,
            data=log.data or {},
        ),
        analytics_loader=lambda _request: _LoggedAnalytics(),
        trace=True,
        mock_state=fields,
    )
    return _run_result(run, version=str(strategy.version))


def execution_log_replay(*, log: StrategyExecutionLog) -> Replay:
    """Re-run a logged input through simulate with the logged precomputed values.

    Against the version that ran and the family's current (published) version; a version
    that cannot be found or run is reported, not raised.
    """
    logged = _logged_result(log)
    if log.definition_id is None:
        try:
            replayed = _replay_builtin(log=log)
        except Exception as error:
            logger.exception("Replay of execution log %s failed", log.pk)
            return Replay(logged, None, None, str(error), str(error))
        return Replay(logged, replayed, replayed)

    from strategies.models import StrategyDefinition
    from strategies.selectors import strategy_family_live

    ran = (
        StrategyDefinition.objects.select_related("realm")
        .filter(pk=log.definition_id, realm_id=log.realm_id)
        .first()
        if log.realm_id is not None  # every definition belongs to a realm
        else None
    )
    if ran is None:
        missing = "The version that ran no longer exists."
        return Replay(logged, None, None, missing, missing)
    current = strategy_family_live(strategy=ran)
    outcomes: list[ReplayOutcome | None] = []
    errors: list[str | None] = []
    for definition in (ran, current):
        if definition is None:
            outcomes.append(None)
            errors.append("The family has no published version.")
            continue
        if definition.realm_id == ran.realm_id:
            definition.realm = ran.realm
        try:
            outcomes.append(_replay_custom(log=log, definition=definition))
            errors.append(None)
        except DomainError as error:
            outcomes.append(None)
            errors.append(error.detail)
        except Exception as error:
            logger.exception("Replay of execution log %s failed", log.pk)
            outcomes.append(None)
            errors.append(str(error))
    return Replay(logged, outcomes[0], outcomes[1], errors[0], errors[1])
