"""Shape selector and service results for the admin's dashboard, compare and replay pages."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from observability import charts
from observability.models import StrategyExecutionLog
from observability.selectors import FamilyVersion, StrategyFamily, VersionRuns
from observability.services import Replay, ReplayOutcome
from observability.stats import ExecutionLogStats, PointsBucket, SeriesPoint, StatsDelta
from scoring.strategy_types import StrategyKind


def json_pretty(value: Any) -> SafeString:
    return format_html(
        '<pre class="execlog-json">{}</pre>',
        json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str),
    )


#: Why a trace is missing, by the kind of run.
TRACE_OF_BUILTIN = "No trace: built-in strategies are Python code and record none."
TRACE_NOT_DRAWN = (
    "No trace: the sampler decides before a run whether to trace it, and did not pick this "
    "one; it was logged because it failed."
)
TRACE_EMPTY = "The run was traced and evaluated no node."
TRACE_NOT_LOGGED = "No trace was logged for this run."


def trace_missing(*, strategy_type: str, trace: list[Any] | None, sampled: bool) -> str:
    """Return why a run shows no trace (only asked when its trace is empty or missing)."""
    if strategy_type == StrategyKind.BUILT_IN:
        return TRACE_OF_BUILTIN
    if trace is not None:
        return TRACE_EMPTY
    return TRACE_NOT_LOGGED if sampled else TRACE_NOT_DRAWN


def log_trace_table(log: StrategyExecutionLog) -> SafeString:
    """Render a logged run's trace, or why it has none."""
    return trace_table(
        log.trace,
        missing=trace_missing(
            strategy_type=log.strategy_type, trace=log.trace, sampled=log.sampled
        ),
    )


def trace_table(trace: list[dict[str, Any]] | None, *, missing: str) -> SafeString:
    """Render a trace as a table: order, node, type, value, branch; ``missing`` when empty."""
    if not trace:
        return format_html('<p class="execlog-no-trace">{}</p>', missing)
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
        (
            (
                index,
                entry.get("nodeId") or "",
                entry.get("type", ""),
                json.dumps(entry.get("value"), ensure_ascii=False, default=str),
                entry.get("branch") or "",
            )
            for index, entry in enumerate(trace, start=1)
        ),
    )
    return format_html(
        '<table class="execlog-trace"><thead><tr><th>#</th><th>node</th><th>type</th>'
        "<th>value</th><th>branch</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


def replay_columns(*, log: StrategyExecutionLog, replay: Replay) -> list[dict[str, Any]]:
    """Return the replay page's columns: the logged run, the version that ran, the current."""
    current = replay.current
    ran = replay.version_that_ran
    columns: list[tuple[str, ReplayOutcome | None, str | None, SafeString | str]] = [
        ("Logged run", replay.logged, None, log_trace_table(log)),
        (
            f"Version that ran (v{log.strategy_version})",
            ran,
            replay.version_that_ran_problem,
            _rerun_trace(log, ran),
        ),
        (
            "Current version" + (f" (v{current['strategy_version']})" if current else ""),
            current,
            replay.current_problem,
            _rerun_trace(log, current),
        ),
    ]
    return [
        {
            "title": title,
            "result": result,
            "error": error,
            "matches": result is not None and replay_matches(replay.logged, result),
            "trace": trace,
            "callback": json_pretty(result.get("callback_data")) if result else "",
            "parent_data": (
                json_pretty(result["parent_data"])
                if result and result.get("parent_data") is not None
                else ""
            ),
        }
        for title, result, error, trace in columns
    ]


def _rerun_trace(log: StrategyExecutionLog, result: ReplayOutcome | None) -> SafeString | str:
    if result is None:
        return ""
    trace = result["trace"]
    return trace_table(
        trace, missing=trace_missing(strategy_type=log.strategy_type, trace=trace, sampled=True)
    )


def _compared(outcome: ReplayOutcome) -> tuple[Any, ...]:
    return (
        outcome["status"],
        outcome["points"],
        outcome["case_name"],
        outcome["callback_data"],
        outcome["error_code"],
    )


def replay_matches(logged: ReplayOutcome, result: ReplayOutcome) -> bool:
    """Whether ``result`` did what the logged run did: status, points, case, callback data
    and error code."""
    return _compared(logged) == _compared(result)


def moment(value: datetime) -> str:
    """Return a timestamp as ``2026-12-03 05:07:12`` in the admin's time zone."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def duration(value: float | None) -> str:
    """Return a duration in ms as ``0.53 ms``."""
    return _ms(value)


def status_badge(*, status: str, error_code: str | None = None) -> SafeString:
    """Return a run's status as a coloured badge, with its error code beneath when failed."""
    badge = format_html('<span class="dsl-status dsl-status-{}">{}</span>', status, status)
    if not error_code:
        return badge
    return format_html(
        '{}<br><code class="execlog-code execlog-clip" title="{}">{}</code>',
        badge,
        error_code,
        error_code,
    )


def clipped(text: str) -> SafeString:
    """Return ``text`` cut to the list column's width by CSS, whole in its tooltip."""
    return format_html('<span class="execlog-clip" title="{}">{}</span>', text, text)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f} %"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f} ms"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


def _signed(text: Callable[[float | None], str], value: float | None) -> str:
    """Return a difference in the unit ``text`` formats, with its sign: ``+1.5 ms``."""
    if value is None:
        return "-"
    shown = text(abs(value))
    if shown == text(0):
        return shown
    return ("+" if value > 0 else "\u2212") + shown


_Figure = Callable[[float | None], str]

#: The compare table's rows: the card's label, its unit, the figure, and its B - A.
_COMPARED: list[tuple[str, _Figure, Callable[[Any], float | None], Callable[[Any], Any]]] = [
    ("Runs (estimated)", _num, lambda s: s.estimated_runs, lambda d: d.estimated_runs),
    ("Success rate", _pct, lambda s: s.success_rate, lambda d: d.success_rate),
    ("Error rate", _pct, lambda s: s.error_rate, lambda d: d.error_rate),
    ("p50", _ms, lambda s: s.duration_ms.p50, lambda d: d.duration_ms_p50),
    ("p95", _ms, lambda s: s.duration_ms.p95, lambda d: d.duration_ms_p95),
    ("p99", _ms, lambda s: s.duration_ms.p99, lambda d: d.duration_ms_p99),
    ("Avg duration", _ms, lambda s: s.duration_ms.avg, lambda d: d.duration_ms_avg),
    ("Avg points", _num, lambda s: s.points.avg, lambda d: d.points_avg),
    ("Avg nodes", _num, lambda s: s.nodes.avg, lambda d: d.nodes_avg),
    ("Max nodes", _num, lambda s: s.nodes.max, lambda d: d.nodes_max),
]


def compare_rows(
    *, a: ExecutionLogStats, b: ExecutionLogStats, delta: StatsDelta
) -> list[tuple[str, str, str, str]]:
    """Return the compare table: each figure's label, A, B and B - A, in the cards' units.

    A difference of two rates is shown in percentage points, like the rates themselves.
    """
    return [
        (label, text(figure(a)), text(figure(b)), _signed(text, difference(delta)))
        for label, text, figure, difference in _COMPARED
    ]


def _points_label(bucket: PointsBucket, *, last: bool, integral: bool) -> str:
    """Return ``5`` or ``10-14`` for whole-number bins, the start for others."""
    if not integral:
        return _num(bucket.start)
    top = bucket.end if last else bucket.end - 1
    if top <= bucket.start:
        return _num(bucket.start)
    return f"{_num(bucket.start)}\u2013{_num(top)}"


def _moment_format(width: timedelta, span: timedelta) -> str:
    """Return how to write a bucket's start so that neighbouring buckets read apart."""
    if width < timedelta(minutes=1):
        return "%H:%M:%S"
    if width < timedelta(days=1):
        return "%H:%M" if span < timedelta(days=1) else "%m-%d %H:%M"
    return "%Y-%m-%d"


@dataclass(frozen=True, slots=True)
class _TimeAxis:
    """The x axis of a series: from the first bucket's start to the last one's end."""

    start: datetime
    span: timedelta
    fmt: str

    def x(self, moment: datetime) -> float:
        return (moment - self.start) / self.span if self.span else 0.0

    def label(self, moment: datetime) -> str:
        return moment.astimezone(UTC).strftime(self.fmt)


def _time_axis(series: Sequence[SeriesPoint], width: timedelta) -> _TimeAxis | None:
    if not series:
        return None
    span = series[-1].at + width - series[0].at
    return _TimeAxis(start=series[0].at, span=span, fmt=_moment_format(width, span))


def _ticks(axis: _TimeAxis, series: Sequence[SeriesPoint], width: timedelta) -> list[Any]:
    """Return five labels on bucket edges: the axis' start, end and three between."""
    edges = [point.at for point in series] + [series[-1].at + width]
    picked = sorted({round(index * (len(edges) - 1) / 4) for index in range(5)})
    return [(axis.x(edges[index]), axis.label(edges[index])) for index in picked]


def dashboard_panel(
    stats: ExecutionLogStats,
    *,
    strategy_id: str,
    name: str = "",
    label: str = "",
    markers: Sequence[tuple[datetime, str, str]] = (),
) -> dict[str, Any]:
    """Return the cards and charts of one strategy's stats; ``name`` is what to call it.

    ``markers`` are moments to mark on the time series: ``(when, label, tooltip)``.
    """
    duration = stats.duration_ms
    series = stats.series
    width = stats.bucket_width
    axis = _time_axis(series, width)
    ticks = _ticks(axis, series, width) if axis else []
    marks = [(axis.x(when), text, tip) for when, text, tip in markers] if axis else []

    def line(value: Callable[[SeriesPoint], float | None]) -> list[Any]:
        if axis is None:
            return []
        return [
            (axis.x(point.at + width / 2), axis.label(point.at), value(point)) for point in series
        ]

    histogram = stats.points_histogram
    return {
        "label": label,
        "strategy_id": strategy_id,
        "name": name or strategy_id,
        "cards": [
            ("Runs (estimated)", _num(stats.estimated_runs), f"{stats.rows} rows logged"),
            ("Success rate", _pct(stats.success_rate), "sampling-corrected"),
            ("Error rate", _pct(stats.error_rate), "sampling-corrected"),
            ("p50", _ms(duration.p50), "duration"),
            ("p95", _ms(duration.p95), "duration"),
            ("p99", _ms(duration.p99), "objective: 250 ms"),
            ("Avg points", _num(stats.points.avg), "ok runs"),
            ("Nodes", _num(stats.nodes.avg), f"avg; max {stats.nodes.max or '-'}"),
        ],
        "status_mix": [
            (status, share.rows, _num(share.estimated), _pct(share.share))
            for status, share in stats.status_mix.items()
        ],
        "top_errors": stats.top_errors,
        "top_cases": stats.top_cases,
        "duration_chart": charts.bar_chart(
            [
                ("≤" + _num(bucket.le_ms) if bucket.le_ms is not None else "more", bucket.estimated)
                for bucket in stats.duration_histogram
            ],
            title="Duration histogram (ms, estimated runs)",
        ),
        "points_chart": charts.bar_chart(
            [
                (
                    _points_label(
                        bucket, last=index == len(histogram) - 1, integral=stats.points_integral
                    ),
                    bucket.estimated,
                )
                for index, bucket in enumerate(histogram)
            ],
            title="Points histogram (estimated runs)",
            color="#79aec8",
        ),
        "runs_chart": charts.line_chart(
            line(lambda point: point.estimated_runs),
            title=f"Runs over time (estimated, per {stats.bucket})",
            ticks=ticks,
            markers=marks,
        ),
        "errors_chart": charts.line_chart(
            line(lambda point: (point.error_rate or 0) * 100),
            title=f"Error rate over time (%, per {stats.bucket})",
            ticks=ticks,
            markers=marks,
            color="#c62828",
        ),
    }


def _status(version: FamilyVersion) -> str:
    return "live" if version.status == "PUBLISHED" else version.status.lower()


def family_rows(families: Sequence[StrategyFamily]) -> list[dict[str, Any]]:
    """Return the dashboard index's rows: one per custom strategy, with its versions."""
    return [
        {
            "realm": family.realm_slug,
            "name": family.name,
            "key": family.key,
            "live": family.live.version if family.live else None,
            "versions": [
                (version.id, f"v{version.version}", _status(version)) for version in family.versions
            ],
        }
        for family in families
    ]


def strategy_choices(
    *,
    families: Sequence[StrategyFamily],
    builtins: Sequence[str],
    extra: Sequence[tuple[str, str]] = (),
) -> list[tuple[str, list[tuple[str, str]]]]:
    """Return the options of a strategy picker, grouped: ``[(group, [(value, label)])]``.

    Each custom strategy offers all its versions together (``family:<uuid>``) and each
    version; ``extra`` adds what a link named that the lists lack (a version deleted since).
    """
    realms = {family.realm_id for family in families}
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for family in families:
        group = family.name if len(realms) == 1 else f"{family.realm_slug} / {family.name}"
        options = [(f"family:{family.key}", f"{family.name}, all versions")]
        options += [
            (str(version.id), f"{family.name} v{version.version} ({_status(version)})")
            for version in family.versions
        ]
        groups.append((group, options))
    groups.append(("Built-in strategies", [(strategy, strategy) for strategy in builtins]))
    offered = {value for _, options in groups for value, _ in options}
    missing = [(value, label) for value, label in extra if value not in offered]
    if missing:
        groups.append(("Other", list(dict.fromkeys(missing))))
    return groups


def version_markers(
    *, family: StrategyFamily, runs: Sequence[VersionRuns]
) -> list[tuple[datetime, str, str]]:
    """Return where the version that ran changed: each version's first run in the window
    but the first one's (it was running already, or the window starts with it)."""
    markers = []
    for run in runs[1:]:
        version = family.version_of(run.definition_id)
        if version is not None:
            label = f"v{version.version}"
            markers.append((run.first_at, label, f"{label} first ran at {moment(run.first_at)}"))
    return markers


def version_rows(*, family: StrategyFamily, runs: Sequence[VersionRuns]) -> list[dict[str, Any]]:
    """Return a family dashboard's table of versions, newest first, with their window's runs."""
    by_id = {run.definition_id: run for run in runs}
    rows = []
    for version in family.versions:
        run = by_id.get(version.id)
        rows.append(
            {
                "version": version.version,
                "status": _status(version),
                "runs": _num(run.estimated_runs) if run else "0",
                "rows": run.rows if run else 0,
                "error_rate": _pct(run.error_rate) if run else "-",
                "first": moment(run.first_at) if run else "",
                "last": moment(run.last_at) if run else "",
            }
        )
    return rows
