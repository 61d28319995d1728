"""Backtests as a service: history replays exactly, windows and caps hold, failures are kept."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gamification.models import Award
from strategies import backtests, services
from strategies.models import Backtest, BacktestStatus
from strategies.tasks import backtest_run_task, backtests_expire_task
from tests.factories import GameFactory, PlayerFactory, TaskFactory, award_history
from tests.strategies.backtest_programs import (
    CONSTANT_EFFORT_EXTENSION,
    COUNTS_PROGRAM,
    DEFAULT_EXTENSION,
    DEFAULT_TWIN,
    HISTORY_PROGRAM,
    arith,
    assign,
    award,
    doubled,
    field,
    literal,
)

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
#: Gaps between awards, in seconds: players keep different paces, so the mean gaps differ.
PAUSES = (0, 0.004, 0, 0.012, 0.001, 0, 0.02, 0.002)


def _published(realm, program, *, type="DSL_FULL", parent=None, name="pace"):
    row = services.strategy_create(
        realm=realm, name=name, type=type, parent_strategy_id=parent, ast_json=program
    )
    return services.strategy_publish(strategy=row).strategy


def _run(capture, **request):
    """Request a backtest and run it as the worker would, after the request's commit."""
    with capture(execute=True):
        backtest = backtests.backtest_request(**request)
    backtest.refresh_from_db()
    return backtest


def _history(realm, live):
    """Two bound tasks (one through its game), an unbound one, older history, then awards made
    through the award endpoint; return the bound tasks and the answers of those awards."""
    game = GameFactory(realm=realm, strategy_id=live.strategy_id)
    inherited = TaskFactory(game=game)
    explicit = TaskFactory(game=GameFactory(realm=realm), strategy_id=live.strategy_id)
    unbound = TaskFactory(game=GameFactory(realm=realm), strategy_id="default")
    early = PlayerFactory(realm=realm, external_user_id="early")
    now = timezone.now()
    award_history(
        task=inherited,
        player=early,
        timestamps=[
            now - timedelta(hours=2),
            now - timedelta(seconds=90),
            now - timedelta(seconds=30),
        ],
    )
    return game, inherited, explicit, unbound


def _awards(api, tasks, *, count=24):
    answers = []
    for index in range(count):
        task = tasks[index % 3 == 2]
        user = ("early", "bea", "cy")[index % 3 if index % 4 else 1]
        answers.append(award(api, task, user, {"score": 1 + index % 5, "level": index % 3}))
        time.sleep(PAUSES[index % len(PAUSES)])
    return answers


PROGRAMS = [
    pytest.param("DSL_FULL", None, HISTORY_PROGRAM, id="counts-windows-gaps"),
    pytest.param("DSL_FULL", None, DEFAULT_TWIN, id="default-twin"),
    pytest.param("DSL_EXTEND", "constant_effort", CONSTANT_EFFORT_EXTENSION, id="constant-effort"),
    pytest.param("DSL_EXTEND", "default", DEFAULT_EXTENSION, id="default-extension"),
]


@pytest.mark.parametrize(("kind", "parent", "program"), PROGRAMS)
def test_backtesting_the_published_version_over_its_own_awards_changes_nothing(
    realm, api, django_capture_on_commit_callbacks, kind, parent, program
):
    live = _published(realm, program, type=kind, parent=parent)
    _, inherited, explicit, unbound = _history(realm, live)
    since = timezone.now()
    answers = _awards(api, [inherited, explicit])
    award(api, unbound, "bea", {"score": 3})

    backtest = _run(django_capture_on_commit_callbacks, strategy=live, since=since)

    assert backtest.status == BacktestStatus.DONE, backtest.error_detail
    result = backtest.result
    assert result["events"] == backtest.events_total == len(answers) == 24
    assert result["tasks"] == 2
    assert result["changed"] == 0
    assert result["errors"] == {}
    assert result["points_before"] == result["points_after"] == sum(a["points"] for a in answers)
    cases = dict(Counter(a["caseName"] for a in answers))
    assert result["case_names"] == {"before": cases, "after": cases}
    assert result["top_movers"] == []
    assert backtest.progress == 1.0
    # The history took the programs down several branches: the analytics mattered.
    assert len(cases) >= 2


def test_the_history_program_takes_every_branch_the_analytics_open(realm, api):
    live = _published(realm, HISTORY_PROGRAM)
    _, inherited, explicit, _ = _history(realm, live)
    answers = _awards(api, [inherited, explicit], count=30)
    assert {"Opening", "Streak", "Quick", "Slowing"} <= {a["caseName"] for a in answers}


def test_a_draft_that_doubles_points_doubles_points_after(
    realm, api, django_capture_on_commit_callbacks
):
    live = _published(realm, HISTORY_PROGRAM)
    _, inherited, explicit, _ = _history(realm, live)
    since = timezone.now()
    answers = _awards(api, [inherited, explicit])
    draft = services.strategy_edit(
        strategy=live, changes={"ast_json": doubled(HISTORY_PROGRAM)}
    ).strategy
    assert draft.status == "DRAFT"

    backtest = _run(django_capture_on_commit_callbacks, strategy=draft, since=since)

    result = backtest.result
    before = sum(a["points"] for a in answers)
    assert result["points_before"] == before
    assert result["points_after"] == 2 * before
    assert result["changed"] == result["events"] == len(answers)
    assert result["case_names"]["after"] == result["case_names"]["before"]
    per_player = Counter()
    for answer in answers:
        per_player[answer["externalUserId"]] += answer["points"]
    movers = result["top_movers"]
    assert [m["external_user_id"] for m in movers] == [
        user for user, _ in sorted(per_player.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    assert all(
        m["after"] == 2 * m["before"] == 2 * per_player[m["external_user_id"]] for m in movers
    )
    distribution = {
        (b["low"], b["high"]): (b["before"], b["after"]) for b in result["points_distribution"]
    }
    points = Counter(a["points"] for a in answers)
    doubled_points = Counter(2 * a["points"] for a in answers)
    assert distribution == {
        (value, value): (points.get(value, 0), doubled_points.get(value, 0))
        for value in set(points) | set(doubled_points)
    }


def _timed_history(realm, strategy):
    """Awards at chosen instants around the 300 s recent window, to the microsecond."""
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=strategy.strategy_id)
    p, q = PlayerFactory(realm=realm), PlayerFactory(realm=realm)
    award_history(task=task, player=p, timestamps=[T0])
    award_history(task=task, player=q, timestamps=[T0 + timedelta(seconds=100)])
    b, c = T0 + timedelta(seconds=300, microseconds=-1), T0 + timedelta(seconds=300)
    d = T0 + timedelta(seconds=600)
    award_history(task=task, player=p, timestamps=[b, c, d])
    return task, b, c, d


def test_each_event_sees_the_history_before_it_to_the_microsecond(
    realm, django_capture_on_commit_callbacks
):
    draft = services.strategy_create(
        realm=realm, name="counts", type="DSL_FULL", ast_json=COUNTS_PROGRAM
    )
    _timed_history(realm, draft)

    backtest = _run(
        django_capture_on_commit_callbacks, strategy=draft, since=T0, until=T0 + timedelta(hours=1)
    )

    # T0: nothing before. q at +100 s: one task award. b (+299.999999 s): two task awards,
    # T0 in its window, one of its own. c (+300 s): T0 is exactly 300 s old, out of the window
    # (the award path counts created_at > now - 300 s). d (+600 s): c is exactly 300 s old.
    values = [0, 100, 211, 312, 403]
    bins = backtest.result["points_distribution"]
    assert [(b["low"], b["after"]) for b in bins if b["after"]] == [(v, 1) for v in values]
    assert backtest.result["points_after"] == sum(values)


def test_the_window_takes_awards_from_since_up_to_but_not_including_until(
    realm, django_capture_on_commit_callbacks
):
    draft = services.strategy_create(
        realm=realm, name="counts", type="DSL_FULL", ast_json=COUNTS_PROGRAM
    )
    _, b, _, d = _timed_history(realm, draft)

    backtest = _run(django_capture_on_commit_callbacks, strategy=draft, since=b, until=d)

    # Awards before the window still count in the analytics of the events in it.
    assert backtest.result["events"] == backtest.events_total == 2
    assert backtest.result["points_before"] == 2.0
    assert backtest.result["points_after"] == 211 + 312


def test_max_events_runs_the_earliest_events_of_the_window(
    realm, django_capture_on_commit_callbacks
):
    draft = services.strategy_create(
        realm=realm, name="counts", type="DSL_FULL", ast_json=COUNTS_PROGRAM
    )
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=draft.strategy_id)
    player = PlayerFactory(realm=realm)
    for second in range(6):
        award_history(
            task=task, player=player, timestamps=[T0 + timedelta(seconds=second)], points=2**second
        )

    backtest = _run(
        django_capture_on_commit_callbacks,
        strategy=draft,
        since=T0,
        until=T0 + timedelta(hours=1),
        max_events=4,
    )

    assert backtest.events_total == backtest.result["events"] == 4
    assert backtest.result["points_before"] == 1 + 2 + 4 + 8


def test_max_events_cuts_between_awards_of_the_same_instant(
    realm, django_capture_on_commit_callbacks
):
    draft = services.strategy_create(
        realm=realm, name="counts", type="DSL_FULL", ast_json=COUNTS_PROGRAM
    )
    game = GameFactory(realm=realm, strategy_id=draft.strategy_id)
    first, second = TaskFactory(game=game), TaskFactory(game=game)
    player = PlayerFactory(realm=realm)
    for task in (first, second, first, second):
        award_history(task=task, player=player, timestamps=[T0])

    backtest = _run(
        django_capture_on_commit_callbacks,
        strategy=draft,
        since=T0,
        until=T0 + timedelta(seconds=1),
        max_events=3,
    )

    assert backtest.events_total == backtest.result["events"] == 3


def test_a_strategy_without_bound_tasks_runs_no_event(realm, django_capture_on_commit_callbacks):
    draft = services.strategy_create(
        realm=realm, name="lonely", type="DSL_FULL", ast_json=COUNTS_PROGRAM
    )
    award_history(
        task=TaskFactory(game=GameFactory(realm=realm)),
        player=PlayerFactory(realm=realm),
        timestamps=[T0],
    )
    backtest = _run(
        django_capture_on_commit_callbacks, strategy=draft, since=T0 - timedelta(days=1)
    )
    assert backtest.status == BacktestStatus.DONE
    assert (backtest.events_total, backtest.result["events"], backtest.result["tasks"]) == (0, 0, 0)


def test_failed_runs_of_the_new_version_are_counted_by_code(
    realm, api, django_capture_on_commit_callbacks
):
    live = _published(realm, HISTORY_PROGRAM)
    _, inherited, explicit, _ = _history(realm, live)
    since = timezone.now()
    answers = _awards(api, [inherited, explicit], count=6)
    dividing = {
        "type": "program",
        "rules": [],
        "default": assign(
            arith("/", literal(10), arith("-", field("data.level"), literal(1))), "Div"
        ),
    }
    draft = services.strategy_edit(strategy=live, changes={"ast_json": dividing}).strategy

    result = _run(django_capture_on_commit_callbacks, strategy=draft, since=since).result

    zero = sum(1 for index in range(len(answers)) if index % 3 == 1)  # data.level == 1
    assert result["errors"] == {"DSL_ARITH_DIV_BY_ZERO": zero}
    assert result["changed"] == len(answers)
    assert sum(result["case_names"]["after"].values()) == len(answers) - zero


def test_progress_is_written_every_chunk_of_events_not_every_event(
    realm, settings, django_capture_on_commit_callbacks
):
    settings.BACKTEST_PROGRESS_EVERY = 3
    draft = services.strategy_create(
        realm=realm, name="counts", type="DSL_FULL", ast_json=COUNTS_PROGRAM
    )
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=draft.strategy_id)
    award_history(
        task=task,
        player=PlayerFactory(realm=realm),
        timestamps=[T0 + timedelta(seconds=s) for s in range(10)],
    )
    with django_capture_on_commit_callbacks() as callbacks:
        backtest = backtests.backtest_request(
            strategy=draft, since=T0, until=T0 + timedelta(hours=1)
        )
    table = Backtest._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        for callback in callbacks:
            callback()
    writes = [
        q["sql"]
        for q in queries
        if q["sql"].startswith(f'UPDATE "{table}"') and '"progress"' in q["sql"]
    ]
    # After 3, 6 and 9 of the 10 events, then the final write.
    assert len(writes) == 4
    backtest.refresh_from_db()
    assert (backtest.status, backtest.progress, backtest.result["events"]) == ("done", 1.0, 10)


def test_a_program_that_no_longer_compiles_fails_the_backtest_with_its_code(
    realm, django_capture_on_commit_callbacks
):
    draft = services.strategy_create(
        realm=realm, name="counts", type="DSL_FULL", ast_json=COUNTS_PROGRAM
    )
    with django_capture_on_commit_callbacks() as callbacks:
        backtest = backtests.backtest_request(
            strategy=draft, since=T0, until=T0 + timedelta(hours=1)
        )
    # What the worker finds is what the row holds (a row written by an older release, say).
    Backtest.objects.filter(pk=backtest.pk).update(ast_json={"type": "program", "rules": [{}]})
    for callback in callbacks:
        callback()
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.FAILED
    assert backtest.error_code == "DSL_VALIDATION_ERROR"
    assert backtest.error_detail
    assert backtest.finished_at is not None


def test_a_running_backtest_whose_worker_died_is_failed_when_read(realm, settings):
    settings.BACKTEST_STALE_SECONDS = 60
    draft = services.strategy_create(
        realm=realm, name="counts", type="DSL_FULL", ast_json=COUNTS_PROGRAM
    )
    stale = timezone.now() - timedelta(seconds=61)
    backtest = Backtest.objects.create(
        realm=realm,
        strategy=draft,
        type=draft.type,
        ast_json=draft.ast_json,
        since=T0,
        until=T0 + timedelta(hours=1),
        max_events=10,
        status=BacktestStatus.RUNNING,
        started_at=stale,
        heartbeat_at=stale,
        progress=0.4,
    )
    fresh = Backtest.objects.create(
        realm=realm,
        strategy=draft,
        type=draft.type,
        ast_json=draft.ast_json,
        since=T0,
        until=T0 + timedelta(hours=1),
        max_events=10,
        status=BacktestStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )

    read = backtests.backtest_get(realm=realm, backtest_id=backtest.pk)

    assert (read.status, read.error_code) == (BacktestStatus.FAILED, "BACKTEST_WORKER_LOST")
    assert backtests.backtest_get(realm=realm, backtest_id=fresh.pk).status == "running"
    # Its message delivered again finds the row failed and runs nothing.
    backtest_run_task.apply(args=[str(backtest.pk)])
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.FAILED


def test_the_sweep_fails_lost_runs_and_backtests_no_worker_took(realm, settings):
    settings.BACKTEST_STALE_SECONDS = 60
    settings.BACKTEST_QUEUED_SECONDS = 3600
    draft = services.strategy_create(
        realm=realm, name="counts", type="DSL_FULL", ast_json=COUNTS_PROGRAM
    )
    common = dict(
        realm=realm,
        strategy=draft,
        type=draft.type,
        ast_json=draft.ast_json,
        since=T0,
        until=T0 + timedelta(hours=1),
        max_events=10,
    )
    lost = Backtest.objects.create(
        **common, status=BacktestStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    waiting = Backtest.objects.create(**common)
    Backtest.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(hours=2))
    recent = Backtest.objects.create(**common)

    assert backtests_expire_task.apply().get() == 2

    codes = dict(Backtest.objects.values_list("pk", "error_code"))
    assert codes == {
        lost.pk: "BACKTEST_WORKER_LOST",
        waiting.pk: "BACKTEST_NEVER_STARTED",
        recent.pk: "",
    }
    assert Backtest.objects.get(pk=recent.pk).status == BacktestStatus.QUEUED


def test_running_a_backtest_twice_runs_it_once(realm, django_capture_on_commit_callbacks):
    draft = services.strategy_create(
        realm=realm, name="counts", type="DSL_FULL", ast_json=COUNTS_PROGRAM
    )
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=draft.strategy_id)
    award_history(task=task, player=PlayerFactory(realm=realm), timestamps=[T0])
    backtest = _run(
        django_capture_on_commit_callbacks, strategy=draft, since=T0, until=T0 + timedelta(hours=1)
    )
    finished = backtest.finished_at
    Award.objects.all().delete()

    backtest_run_task.apply(args=[str(backtest.pk)])

    backtest.refresh_from_db()
    assert (backtest.status, backtest.result["events"], backtest.finished_at) == (
        "done",
        1,
        finished,
    )


def test_a_backtest_runs_the_program_as_it_was_requested(realm, django_capture_on_commit_callbacks):
    draft = services.strategy_create(
        realm=realm, name="counts", type="DSL_FULL", ast_json=COUNTS_PROGRAM
    )
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=draft.strategy_id)
    award_history(
        task=task, player=PlayerFactory(realm=realm), timestamps=[T0, T0 + timedelta(seconds=1)]
    )
    with django_capture_on_commit_callbacks() as callbacks:
        backtest = backtests.backtest_request(
            strategy=draft, since=T0, until=T0 + timedelta(hours=1)
        )
    services.strategy_edit(strategy=draft, changes={"ast_json": doubled(COUNTS_PROGRAM)})
    for callback in callbacks:
        callback()
    backtest.refresh_from_db()
    # T0: nothing before it; T0 + 1 s: one task award, in the recent window, the player's own.
    assert backtest.result["points_after"] == 0 + 111
