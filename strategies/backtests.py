"""Backtests: run a strategy version over the stored awards of a time window and compare.

A backtest takes the awards of a window on the tasks bound to any version of the strategy's
family, runs the version's program on each stored event ``data`` with the analytics the
event had when it was scored, and compares the outcome with what was awarded. The analytics
are rebuilt from the award history in one read (``strategies.sql.backtest_history``): the
values the award path read from its stats rows, handed to the engine through the same
``scoring.context.event_analytics``, so the version that produced a history reproduces it.
The one exception is awards on one task that raced: an award whose read ran before a
concurrent award committed saw one award fewer than the history now shows.

Lifecycle: ``backtest_request`` stores a queued row and hands its id to Celery after commit;
``backtest_run`` (the task) claims the queued row, streams the events, writes progress and a
heartbeat every ``BACKTEST_PROGRESS_EVERY`` events and stores the report. A run whose worker
died stops moving its heartbeat; ``BACKTEST_STALE_SECONDS`` later it is failed as
``BACKTEST_WORKER_LOST`` by ``backtests_expire`` (every minute under beat) or by
``backtest_get``, whichever looks first. It is not run again by itself: a run that killed its
worker (out of memory, say) would kill the next one too. A new request starts it afresh.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from gamification.errors import DomainError
from gamification.models import ApiKey, Realm, Task
from gamification.sql import read_one
from scoring.builtins.base import Analytics, AnalyticsRequest, ScoringEvent
from scoring.context import (
    EventStats,
    analytics_request_normalise,
    empty_history_analytics,
    event_analytics,
)
from scoring.dsl.errors import DslError
from scoring.engine import strategy_execute
from scoring.strategy_types import ResolvedStrategy, error_code_label
from strategies import sql
from strategies.errors import BacktestLimitReached, BacktestNotFound
from strategies.models import Backtest, BacktestStatus, StrategyDefinition
from strategies.selectors import strategy_family_ids
from strategies.simulation import program_resolve

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

logger = logging.getLogger(__name__)

#: Why a backtest failed, besides the codes of domain and DSL errors.
WORKER_LOST = "BACKTEST_WORKER_LOST"
NEVER_STARTED = "BACKTEST_NEVER_STARTED"
NOT_QUEUED = "BACKTEST_NOT_QUEUED"
DATABASE_UNAVAILABLE = "BACKTEST_DATABASE_UNAVAILABLE"
TIME_BUDGET_SPENT = "BACKTEST_TIME_BUDGET_SPENT"
INTERNAL = "BACKTEST_INTERNAL_ERROR"

#: Rows fetched from the history read at a time (a server-side cursor on PostgreSQL).
FETCH_ROWS = 2000
#: Players listed as the top movers: the largest changes of a player's total points.
TOP_MOVERS = 10
#: Distinct case names counted one by one; the others are counted together as OTHER.
CASE_NAMES_MAX = 1000
OTHER_CASES = "(other)"
NO_CASE = "(none)"
#: Distinct points values a distribution lists one by one; beyond, power-of-two bins.
DISTRIBUTION_VALUES_MAX = 24
#: Distinct points values counted exactly while a backtest runs, before binning.
DISTRIBUTION_TRACKED_MAX = 4096


class BacktestAborted(Exception):
    """The row stopped being this run's (failed as stale meanwhile): stop without a report."""


# -- the report ----------------------------------------------------------------------------------
class Mover(TypedDict):
    external_user_id: str
    before: float
    after: float


class PointsBin(TypedDict):
    """Events whose points lie in [low, high) (both equal: exactly that value)."""

    low: float
    high: float
    before: int
    after: int


class CaseNames(TypedDict):
    before: dict[str, int]
    after: dict[str, int]


class BacktestReport(TypedDict):
    """What a backtest found; stored in ``Backtest.result`` (partial while it runs)."""

    events: int
    changed: int
    points_before: float
    points_after: float
    errors: dict[str, int]
    case_names: CaseNames
    top_movers: list[Mover]
    points_distribution: list[PointsBin]
    tasks: int


def _bin(value: float) -> tuple[float, float]:
    """Return the power-of-two bin of ``value``: [2^k, 2^(k+1)), mirrored below zero."""
    if value == 0:
        return 0.0, 0.0
    _, exponent = math.frexp(abs(value))
    low, high = math.ldexp(1.0, exponent - 1), math.ldexp(1.0, exponent)
    return (low, high) if value > 0 else (-high, -low)


class _Histogram:
    """Counts of points values; past DISTRIBUTION_TRACKED_MAX distinct ones, of their bins."""

    __slots__ = ("binned", "counts")

    def __init__(self) -> None:
        self.counts: Counter[float] = Counter()
        self.binned = False

    def add(self, value: float) -> None:
        counts = self.counts
        if self.binned:
            counts[_bin(value)[0]] += 1
            return
        counts[value] += 1
        if len(counts) > DISTRIBUTION_TRACKED_MAX:
            self.to_bins()

    def to_bins(self) -> None:
        if self.binned:
            return
        binned: Counter[float] = Counter()
        for value, count in self.counts.items():
            binned[_bin(value)[0]] += count
        self.counts, self.binned = binned, True


def _distribution(before: _Histogram, after: _Histogram) -> list[PointsBin]:
    if before.binned or after.binned or len(before.counts | after.counts) > DISTRIBUTION_VALUES_MAX:
        before.to_bins()
        after.to_bins()
    keys = sorted(set(before.counts) | set(after.counts))
    return [
        PointsBin(
            low=key,
            high=_bin(key)[1] if before.binned else key,
            before=before.counts.get(key, 0),
            after=after.counts.get(key, 0),
        )
        for key in keys
    ]


class _CaseCounter:
    """Counts of case names, at most CASE_NAMES_MAX of them by name."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, name: str | None) -> None:
        key = NO_CASE if name is None else name
        counts = self.counts
        if key in counts or len(counts) < CASE_NAMES_MAX:
            counts[key] += 1
        else:
            counts[OTHER_CASES] += 1


class _Tally:
    """The running comparison of a backtest's events: what was awarded and what would be."""

    def __init__(self, *, tasks: int) -> None:
        self.tasks = tasks
        self.events = 0
        self.changed = 0
        self.points_before = 0.0
        self.points_after = 0.0
        self.errors: Counter[str] = Counter()
        self.cases_before = _CaseCounter()
        self.cases_after = _CaseCounter()
        self.histogram_before = _Histogram()
        self.histogram_after = _Histogram()
        #: player id -> [external user id, points before, points after]
        self.players: dict[int, list[Any]] = {}

    def report(self, *, final: bool) -> BacktestReport:
        """Return the report so far; the movers and the distribution only when ``final``."""
        return BacktestReport(
            events=self.events,
            changed=self.changed,
            points_before=self.points_before,
            points_after=self.points_after,
            errors=dict(self.errors.most_common()),
            case_names=CaseNames(
                before=dict(self.cases_before.counts.most_common()),
                after=dict(self.cases_after.counts.most_common()),
            ),
            top_movers=self._movers() if final else [],
            points_distribution=(
                _distribution(self.histogram_before, self.histogram_after) if final else []
            ),
            tasks=self.tasks,
        )

    def _movers(self) -> list[Mover]:
        moved = (entry for entry in self.players.values() if entry[1] != entry[2])
        top = heapq.nsmallest(TOP_MOVERS, moved, key=lambda e: (-abs(e[2] - e[1]), e[0]))
        return [Mover(external_user_id=e[0], before=e[1], after=e[2]) for e in top]


# -- the history read ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Window:
    """The tasks of a backtest and where its events end."""

    tasks: dict[int, tuple[str, str]]
    total: int
    #: (created_at, id) of the last event when the window holds more than ``max_events``.
    bound: tuple[Any, Any] | None


def backtest_tasks(*, strategy: StrategyDefinition) -> dict[int, tuple[str, str]]:
    """Return ``{task id: (external game id, external task id)}`` of the tasks bound to any
    version of ``strategy``'s family (those a version would score once published)."""
    rows = Task.objects.filter(
        game__realm_id=strategy.realm_id, strategy_id__in=strategy_family_ids(strategy=strategy)
    ).values_list("pk", "game__external_game_id", "external_task_id")
    return {pk: (game, task) for pk, game, task in rows}


def _window(backtest: Backtest) -> _Window:
    tasks = backtest_tasks(strategy=backtest.strategy)
    if not tasks:
        return _Window(tasks={}, total=0, bound=None)
    vendor, adapt = connection.vendor, connection.ops.adapt_datetimefield_value
    task_params = sql.tasks_params(vendor, list(tasks))
    window = [*task_params, adapt(backtest.since), adapt(backtest.until)]
    row = read_one(sql.backtest_window_count(vendor, len(tasks)), [*window, backtest.max_events])
    total = row[0] if row else 0
    bound = None
    if total >= backtest.max_events:
        bound = read_one(
            sql.backtest_window_bound(vendor, len(tasks)), [*window, backtest.max_events - 1]
        )
    return _Window(tasks=tasks, total=total, bound=bound)


def _analytics_wanted(strategy: ResolvedStrategy) -> AnalyticsRequest:
    """Return the analytics a run of ``strategy`` asks for, by running it once on nothing.

    The engine asks its loader before anything else runs, for what the program and its
    parent read; that does not depend on the event, so one probe tells every event's needs.
    """
    asked: list[AnalyticsRequest] = []

    def record(request: AnalyticsRequest) -> Analytics:
        asked.append(request)
        return empty_history_analytics(request)

    probe = ScoringEvent(external_game_id="", external_task_id="", external_user_id="")
    strategy_execute(strategy=strategy, event=probe, analytics_loader=record)
    return analytics_request_normalise(reduce(AnalyticsRequest.__or__, asked, AnalyticsRequest()))


def _history_shape(request: AnalyticsRequest, *, bounded: bool) -> sql.HistoryShape:
    # Section 4.2 of the DSL spec names task-wide values task.* and all.*, a player's user.*.
    return sql.HistoryShape(
        task_values=any(path.startswith(("task.", "all.")) for path in request.paths),
        player_values=any(path.startswith("user.") for path in request.paths),
        windows=tuple(sorted(request.recent_windows)),
        bounded=bounded,
    )


def _sqlite_moment(value: Any) -> datetime | None:
    """Return the aware datetime of SQLite's naive UTC value: a datetime where the column's
    declared type survives, its text where a window function computed it."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else parse_datetime(value)
    assert moment is not None, f"SQLite answered {value!r} for a datetime"
    return moment.replace(tzinfo=UTC)


class _HistoryLoader:
    """The analytics loader of one event at a time: what the history read said about it."""

    __slots__ = ("checked", "now", "stats", "wanted")

    def __init__(self, wanted: AnalyticsRequest) -> None:
        self.wanted = wanted
        self.stats: EventStats | None = None
        self.now: datetime | None = None
        self.checked: AnalyticsRequest | None = None

    def __call__(self, request: AnalyticsRequest) -> Analytics:
        stats, now = self.stats, self.now
        assert stats is not None, "the loader is set for each event"
        assert now is not None, "the loader is set for each event"
        if request != self.checked:
            asked = analytics_request_normalise(request)
            if not (
                asked.paths <= self.wanted.paths
                and asked.recent_windows <= self.wanted.recent_windows
            ):
                raise DomainError(
                    "The strategy asked for analytics the backtest did not read.",
                    code=INTERNAL,
                )
            self.checked = request
        return event_analytics(stats, request=request, now=now)


class _Clock:
    """A run's time budget and a heartbeat kept by the clock, between progress writes.

    Progress is written every ``BACKTEST_PROGRESS_EVERY`` events; a program that takes long
    on every event (each may take the DSL's whole budget) would go ``BACKTEST_STALE_SECONDS``
    without a write, be failed as lost while its worker ran on, and free its place in the
    realm's count of active backtests for another one.
    """

    __slots__ = ("backtest_id", "beat_every", "deadline", "next_beat")

    def __init__(self, backtest_id: uuid.UUID | str) -> None:
        now = time.monotonic()
        self.backtest_id = backtest_id
        self.deadline = now + settings.BACKTEST_TIME_BUDGET_SECONDS
        self.beat_every = settings.BACKTEST_STALE_SECONDS / 3
        self.next_beat = now + self.beat_every

    def tick(self, events: int) -> float:
        """Fail a run past its budget, beat when due; return when to look again."""
        now = time.monotonic()
        if now > self.deadline:
            raise DomainError(
                f"The run spent its {settings.BACKTEST_TIME_BUDGET_SECONDS:g} s after {events} "
                "events; backtest a shorter window or fewer events.",
                code=TIME_BUDGET_SPENT,
            )
        if now >= self.next_beat:
            _progress_write(self.backtest_id)
            self.next_beat = now + self.beat_every
        return min(self.deadline, self.next_beat)


def _replay(
    backtest: Backtest,
    *,
    strategy: ResolvedStrategy,
    window: _Window,
    on_chunk: Callable[[_Tally], None],
) -> _Tally:
    """Run ``strategy`` on every event of the window; call ``on_chunk`` every so often."""
    tally = _Tally(tasks=len(window.tasks))
    if window.total == 0:
        return tally
    vendor, adapt = connection.vendor, connection.ops.adapt_datetimefield_value
    request = _analytics_wanted(strategy)
    shape = _history_shape(request, bounded=window.bound is not None)
    params: list[Any] = sql.tasks_params(vendor, list(window.tasks))
    if window.bound is not None:
        params += [window.bound[0], adapt(backtest.since), *window.bound]
    else:
        params += [adapt(backtest.until), adapt(backtest.since)]
    statement = sql.backtest_history(vendor, len(window.tasks), shape)
    loader = _HistoryLoader(request)
    clock = _Clock(backtest.pk)
    every = settings.BACKTEST_PROGRESS_EVERY
    with sql.history_cursor() as cursor:
        cursor.execute(statement, params)
        reported = 0
        while rows := cursor.fetchmany(min(FETCH_ROWS, every)):
            _events_run(
                rows,
                tally=tally,
                strategy=strategy,
                window=window,
                shape=shape,
                loader=loader,
                clock=clock,
            )
            if tally.events - reported >= every:
                reported = tally.events
                on_chunk(tally)
    return tally


def _events_run(
    rows: Iterable[Sequence[Any]],
    *,
    tally: _Tally,
    strategy: ResolvedStrategy,
    window: _Window,
    shape: sql.HistoryShape,
    loader: _HistoryLoader,
    clock: _Clock,
) -> None:
    """Score one chunk of the history read's rows and add them to ``tally``.

    The hot loop of a backtest: a million events should take well under a minute, so the
    names it uses are bound to locals and nothing is done twice per event (but for one look
    at the clock, for its budget and heartbeat).
    """
    monotonic = time.monotonic
    look_at = clock.tick(tally.events)
    moment = _sqlite_moment if connection.vendor != "postgresql" else None
    tasks = window.tasks
    loads = json.loads
    execute = strategy_execute
    players = tally.players
    errors = tally.errors
    case_before, case_after = tally.cases_before.add, tally.cases_after.add
    histogram_before, histogram_after = tally.histogram_before.add, tally.histogram_after.add
    task_at = len(sql.EVENT_COLUMNS)
    player_at = task_at + (len(sql.TASK_COLUMNS) if shape.task_values else 0)
    recent_at = player_at + (len(sql.PLAYER_COLUMNS) if shape.player_values else 0)
    recent_slots = [(seconds, recent_at + index) for index, seconds in enumerate(shape.windows)]
    events = changed = 0
    before_total = after_total = 0.0
    for row in rows:
        if monotonic() >= look_at:
            look_at = clock.tick(tally.events + events)
        created_at, data, points, case_name, task_id, player_id, user = row[:task_at]
        task_count = count = 0
        task_first = task_last = first = last = previous = None
        if shape.task_values:
            task_count, task_first, task_last = row[task_at:player_at]
        if shape.player_values:
            count, first, last, previous = row[player_at:recent_at]
        if moment is not None:
            created_at, task_first, task_last = (
                moment(created_at),
                moment(task_first),
                moment(task_last),
            )
            first, last, previous = moment(first), moment(last), moment(previous)
        loader.stats = EventStats(
            player_id=player_id,
            task_count=task_count,
            task_first=task_first,
            task_last=task_last,
            count=count,
            first=first,
            last=last,
            previous=previous,
            recent_counts={seconds: row[at] for seconds, at in recent_slots},
        )
        loader.now = created_at
        game, task = tasks[task_id]
        event = ScoringEvent(
            external_game_id=game,
            external_task_id=task,
            external_user_id=user,
            data=loads(data) if isinstance(data, str) else data,
        )
        run = execute(strategy=strategy, event=event, analytics_loader=loader)
        events += 1
        before_total += points
        case_before(case_name)
        histogram_before(points)
        entry = players.get(player_id)
        if entry is None:
            entry = players[player_id] = [user, 0.0, 0.0]
        entry[1] += points
        result = run.result
        if run.error is not None or result is None:
            errors[error_code_label(run.error, run.status) or INTERNAL] += 1
            changed += 1
            continue
        new_points = result.points
        after_total += new_points
        entry[2] += new_points
        case_after(result.case_name)
        histogram_after(new_points)
        if new_points != points or result.case_name != case_name:
            changed += 1
    tally.events += events
    tally.changed += changed
    tally.points_before += before_total
    tally.points_after += after_total


# -- services ------------------------------------------------------------------------------------
def _creator(actor: User | AnonymousUser | None) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None


def _unfinished() -> Q:
    return Q(status__in=[BacktestStatus.QUEUED, BacktestStatus.RUNNING])


def _in_utc(moment: datetime, *, field: str) -> datetime:
    """Return ``moment`` in UTC, refusing one that leaves years 1 to 9999 there: PostgreSQL
    would store it, and every later read of the row would fail to load it."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise DomainError(
            f"{field} is out of range once in UTC.", code="VALIDATION_ERROR", field=field
        ) from None


def backtest_request(
    *,
    strategy: StrategyDefinition,
    since: datetime,
    until: datetime | None = None,
    max_events: int | None = None,
    actor: User | AnonymousUser | None = None,
    api_key: ApiKey | None = None,
) -> Backtest:
    """Queue a backtest of ``strategy`` (any status) over the awards of [since, until).

    The program is compiled first (an invalid one is refused as it would be on publish) and
    copied into the row. ``until`` defaults to now and ``max_events`` to
    ``BACKTEST_MAX_EVENTS``; a realm has at most ``BACKTEST_MAX_ACTIVE_PER_REALM`` backtests
    queued or running (its row is locked while they are counted, so two requests cannot both
    take the last place). The task is sent after commit, so a worker always finds the row.
    """
    since = _in_utc(since, field="since")
    until = timezone.now() if until is None else _in_utc(until, field="until")
    max_events = settings.BACKTEST_MAX_EVENTS if max_events is None else max_events
    if since >= until:
        raise DomainError("since must be before until.", code="VALIDATION_ERROR", field="until")
    if not 1 <= max_events <= settings.BACKTEST_MAX_EVENTS:
        raise DomainError(
            f"maxEvents must be between 1 and {settings.BACKTEST_MAX_EVENTS}.",
            code="VALIDATION_ERROR",
            field="maxEvents",
        )
    program_resolve(
        type=strategy.type,
        parent_strategy_id=strategy.parent_strategy_id,
        ast_json=strategy.ast_json,
        definition=strategy,
    )
    backtests_expire()
    with transaction.atomic():
        Realm.objects.select_for_update().filter(pk=strategy.realm_id).first()
        limit = settings.BACKTEST_MAX_ACTIVE_PER_REALM
        active = Backtest.objects.filter(_unfinished(), realm_id=strategy.realm_id).count()
        if active >= limit:
            raise BacktestLimitReached(
                f"This realm has {active} backtests queued or running; wait for one to finish "
                f"(at most {limit} at once)."
            )
        backtest = Backtest.objects.create(
            realm_id=strategy.realm_id,
            strategy=strategy,
            type=strategy.type,
            parent_strategy_id=strategy.parent_strategy_id,
            ast_json=strategy.ast_json,
            since=since,
            until=until,
            max_events=max_events,
            requested_by=_creator(actor),
            requested_by_key=api_key,
        )
        transaction.on_commit(lambda: _backtest_enqueue(backtest_id=backtest.pk))
    return backtest


def _backtest_enqueue(*, backtest_id: uuid.UUID) -> None:
    """Send the backtest to a worker; if the broker refuses, fail it rather than leave it
    queued for ``BACKTEST_QUEUED_SECONDS``."""
    from strategies.tasks import backtest_run_task  # the tasks module imports this one

    try:
        backtest_run_task.apply_async(args=[str(backtest_id)], retry=False)
    except Exception as error:  # noqa: BLE001 - any broker failure: the run cannot start
        logger.warning("backtest %s not queued: %s: %s", backtest_id, type(error).__name__, error)
        _fail(
            backtest_id,
            code=NOT_QUEUED,
            detail="The task queue is unavailable.",
            only=_unfinished(),
        )


def _fail(backtest_id: uuid.UUID | str, *, code: str, detail: str, only: Q) -> int:
    return Backtest.objects.filter(only, pk=backtest_id).update(
        status=BacktestStatus.FAILED,
        error_code=code,
        error_detail=detail[:2000],
        finished_at=timezone.now(),
    )


def _failure(error: BaseException) -> tuple[str, str]:
    """Return the code and the message a failed run records for ``error``."""
    if isinstance(error, DomainError):
        return error.code, error.detail
    if isinstance(error, DslError):
        return error.code, str(error)
    if isinstance(error, OperationalError | InterfaceError):
        return DATABASE_UNAVAILABLE, "The database was unavailable during the run."
    return INTERNAL, f"The run stopped on an unexpected {type(error).__name__}."


def backtest_run(*, backtest_id: uuid.UUID | str) -> None:
    """Run a queued backtest to its end; safe to call twice (only a queued row is claimed).

    Any failure marks the backtest failed with a code; nothing leaves it running.
    """
    now = timezone.now()
    claimed = Backtest.objects.filter(pk=backtest_id, status=BacktestStatus.QUEUED).update(
        status=BacktestStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        return
    running = Q(status=BacktestStatus.RUNNING)
    try:
        backtest = Backtest.objects.select_related("strategy").get(pk=backtest_id)
        strategy = program_resolve(
            type=backtest.type,
            parent_strategy_id=backtest.parent_strategy_id,
            ast_json=backtest.ast_json,
            definition=backtest.strategy,
        )
        window = _window(backtest)
        total = window.total
        _progress_write(backtest_id, events_total=total)

        def on_chunk(tally: _Tally) -> None:
            _progress_write(
                backtest_id,
                progress=min(tally.events / total, 1.0),
                result=tally.report(final=False),
            )

        tally = _replay(backtest, strategy=strategy, window=window, on_chunk=on_chunk)
        finished = Backtest.objects.filter(running, pk=backtest_id).update(
            status=BacktestStatus.DONE,
            progress=1.0,
            result=tally.report(final=True),
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        if not finished:
            raise BacktestAborted
    except BacktestAborted:
        logger.info("backtest %s stopped: it was failed while it ran", backtest_id)
    except Exception as error:  # every failure is recorded on the row
        code, detail = _failure(error)
        logger.exception("backtest %s failed: %s", backtest_id, code)
        if isinstance(error, OperationalError | InterfaceError):
            connection.close()
        try:
            _fail(backtest_id, code=code, detail=detail, only=running)
        except (OperationalError, InterfaceError):
            # Still unreachable: the row's heartbeat stops, so backtests_expire fails it.
            logger.warning("backtest %s: its failure could not be recorded", backtest_id)


def _progress_write(backtest_id: uuid.UUID | str, **values: Any) -> None:
    """Write progress and the heartbeat, unless the row stopped being a running one."""
    updated = Backtest.objects.filter(pk=backtest_id, status=BacktestStatus.RUNNING).update(
        heartbeat_at=timezone.now(), **values
    )
    if not updated:
        raise BacktestAborted


def backtests_expire(*, now: datetime | None = None) -> int:
    """Fail the running backtests whose worker stopped and the queued ones no worker took.

    Return how many were failed. Safe at any time and in any number of processes: each
    update only matches rows that are still unfinished and stale.
    """
    now = now or timezone.now()
    lost = Backtest.objects.filter(
        status=BacktestStatus.RUNNING,
        heartbeat_at__lt=now - timedelta(seconds=settings.BACKTEST_STALE_SECONDS),
    ).update(
        status=BacktestStatus.FAILED,
        error_code=WORKER_LOST,
        error_detail=(
            f"No progress for {settings.BACKTEST_STALE_SECONDS} s: the worker running it "
            "stopped. Run the backtest again."
        ),
        finished_at=now,
    )
    never = Backtest.objects.filter(
        status=BacktestStatus.QUEUED,
        created_at__lt=now - timedelta(seconds=settings.BACKTEST_QUEUED_SECONDS),
    ).update(
        status=BacktestStatus.FAILED,
        error_code=NEVER_STARTED,
        error_detail=(
            f"No worker took it within {settings.BACKTEST_QUEUED_SECONDS} s. Run the "
            "backtest again."
        ),
        finished_at=now,
    )
    return lost + never


# -- reads ---------------------------------------------------------------------------------------
def _stale(backtest: Backtest, now: datetime) -> bool:
    if backtest.status == BacktestStatus.RUNNING:
        beat = backtest.heartbeat_at or backtest.created_at
        return beat < now - timedelta(seconds=settings.BACKTEST_STALE_SECONDS)
    if backtest.status == BacktestStatus.QUEUED:
        return backtest.created_at < now - timedelta(seconds=settings.BACKTEST_QUEUED_SECONDS)
    return False


def _backtests() -> QuerySet[Backtest]:
    return Backtest.objects.select_related("strategy", "requested_by", "requested_by_key", "realm")


def backtest_get(
    *,
    backtest_id: uuid.UUID | str,
    realm: Realm | None = None,
    realm_ids: Iterable[int] | None = None,
) -> Backtest:
    """Return a backtest of ``realm`` (or of one of ``realm_ids``; neither: any realm).

    Another realm's backtest is not found, like a missing one. A backtest whose worker is
    gone is failed first (one conditional update), so no reader sees a dead run as running.
    """
    try:
        pk = uuid.UUID(str(backtest_id))
    except ValueError:
        raise BacktestNotFound(f"No backtest {backtest_id!r}.") from None
    rows = _backtests().filter(pk=pk)
    if realm is not None:
        rows = rows.filter(realm=realm)
    if realm_ids is not None:
        rows = rows.filter(realm_id__in=sorted(realm_ids))
    backtest = rows.first()
    if backtest is None:
        raise BacktestNotFound(f"No backtest {backtest_id!r}.")
    if _stale(backtest, timezone.now()) and backtests_expire():
        backtest.refresh_from_db()
    return backtest


def backtest_list(*, strategy: StrategyDefinition, limit: int = 10) -> list[Backtest]:
    """Return the latest backtests of any version of ``strategy``'s family, newest first."""
    return list(
        _backtests()
        .filter(realm_id=strategy.realm_id, strategy__name=strategy.name)
        .defer("ast_json")
        .order_by("-created_at")[:limit]
    )
