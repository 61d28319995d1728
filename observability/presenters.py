"""Shape selector and service results for the admin's dashboard, compare and replay pages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from observability import charts
from observability.models import StrategyExecutionLog
from observability.serializers import delta_render
from observability.services import Replay, ReplayOutcome
from observability.stats import ExecutionLogStats, StatsDelta
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


def compare_delta(delta: StatsDelta | None) -> dict[str, float | None] | None:
    """Return B - A for the compare table, which names each figure as the API does."""
    return delta_render(delta) if delta is not None else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f} %"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f} ms"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


def dashboard_panel(
    stats: ExecutionLogStats, *, strategy_id: str, name: str = "", label: str = ""
) -> dict[str, Any]:
    """Return the cards and charts of one strategy's stats; ``name`` is what to call it."""
    duration = stats.duration_ms
    fmt = "%H:%M" if stats.bucket == "hour" else "%m-%d"
    series = stats.series
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
            [(_num(bucket.start), bucket.estimated) for bucket in stats.points_histogram],
            title="Points histogram (estimated runs)",
            color="#79aec8",
        ),
        "runs_chart": charts.line_chart(
            [(point.at.strftime(fmt), point.estimated_runs) for point in series],
            title="Runs over time (estimated)",
        ),
        "errors_chart": charts.line_chart(
            [(point.at.strftime(fmt), (point.error_rate or 0) * 100) for point in series],
            title="Error rate over time (%)",
            color="#c62828",
        ),
    }
