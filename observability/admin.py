"""The runbook: read-only execution logs, replay, and per-strategy dashboards in the admin."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from rest_framework.exceptions import ValidationError

from gamification.models import Realm
from observability import charts, selectors
from observability.models import ExecutionLogDeadLetter, StrategyExecutionLog
from observability.serializers import WINDOWS, window_parse
from observability.services import execution_log_replay

#: The admin never counts further than this; the changelist shows "N+" pages at most.
COUNT_CAP = 10_000


class BoundedCountPaginator(Paginator):
    """Count at most ``COUNT_CAP`` rows: ``SELECT COUNT(*) FROM (... LIMIT n)``."""

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[:COUNT_CAP].count()


class RealmFilter(admin.SimpleListFilter):
    title = "realm"
    parameter_name = "realm"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(pk), slug) for pk, slug in Realm.objects.values_list("pk", "slug")[:200]]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(realm_id=self.value()) if self.value() else queryset


class InputFilter(admin.SimpleListFilter):
    """A free-text exact filter: listing distinct values would scan the whole table."""

    template = "admin/observability/input_filter.html"
    field = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("", "")]

    def choices(self, changelist: Any) -> Any:
        query = {
            key: value
            for key, value in changelist.get_filters_params().items()
            if key != self.parameter_name
        }
        yield {"value": self.value() or "", "query": query, "parameter": self.parameter_name}

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = (self.value() or "").strip()
        if not value:
            return queryset
        if self.field == "strategy":
            return queryset.filter(selectors.strategy_q(value))
        return queryset.filter(**{self.field: value})


class StrategyFilter(InputFilter):
    title = "strategy (id or custom:<uuid>)"
    parameter_name = "strategy"
    field = "strategy"


class ErrorCodeFilter(InputFilter):
    title = "error code"
    parameter_name = "error_code"
    field = "error_code"


class TimeRangeFilter(admin.SimpleListFilter):
    title = "time range"
    parameter_name = "window"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("1h", "Last hour"),
            ("24h", "Last 24 hours"),
            ("7d", "Last 7 days"),
            ("30d", "Last 30 days"),
        ]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        spans = {"1h": timedelta(hours=1), **WINDOWS}
        if self.value() in spans:
            return queryset.filter(created_at__gte=timezone.now() - spans[self.value()])
        return queryset


def _pretty(value: Any) -> str:
    return format_html(
        '<pre class="execlog-json">{}</pre>',
        json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str),
    )


def trace_table(trace: list[dict[str, Any]] | None) -> str:
    """Render a trace as a table: order, node, type, value, branch."""
    if not trace:
        return format_html("<p>{}</p>", "No trace (failed runs lose theirs; see the error).")
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


@admin.register(StrategyExecutionLog)
class StrategyExecutionLogAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "strategy_link",
        "strategy_version",
        "strategy_type",
        "status_badge",
        "error_code",
        "points",
        "case_name",
        "duration_ms",
        "nodes_executed",
        "sampled",
        "realm",
        "external_user_id",
    ]
    list_filter = [
        RealmFilter,
        StrategyFilter,
        "status",
        ErrorCodeFilter,
        "sampled",
        "strategy_type",
        TimeRangeFilter,
    ]
    list_select_related = ["realm"]
    search_fields = ["=correlation_id", "=external_user_id", "=id"]
    ordering = ["-created_at"]
    show_full_result_count = False
    paginator = BoundedCountPaginator
    list_per_page = 50
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "created_at",
                    "realm",
                    "api_key_used",
                    "strategy_id",
                    "definition_id",
                    "strategy_version",
                    "strategy_type",
                    "parent_strategy_id",
                    "replay_link",
                    "dashboard_link",
                ]
            },
        ),
        (
            "Event",
            {
                "fields": [
                    "external_game_id",
                    "external_task_id",
                    "external_user_id",
                    "correlation_id",
                    "data_pretty",
                    "fields_pretty",
                ]
            },
        ),
        (
            "Outcome",
            {
                "fields": [
                    "status",
                    "error_code",
                    "error_node_id",
                    "points",
                    "case_name",
                    "callback_data_pretty",
                    "duration_ms",
                    "nodes_executed",
                    "sampled",
                    "sample_rate",
                    "notes",
                ]
            },
        ),
        ("Trace", {"fields": ["trace_pretty"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [name for fieldset in self.fieldsets for name in fieldset[1]["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="strategy", ordering="strategy_id")
    def strategy_link(self, obj: StrategyExecutionLog) -> str:
        key = str(obj.definition_id) if obj.definition_id else obj.strategy_id
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:observability_dashboard", args=[key]),
            obj.strategy_id,
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: StrategyExecutionLog) -> str:
        color = "#2e7d32" if obj.status == "ok" else "#c62828"
        return format_html('<strong style="color:{}">{}</strong>', color, obj.status)

    @admin.display(description="input data")
    def data_pretty(self, obj: StrategyExecutionLog) -> str:
        return _pretty(obj.data)

    @admin.display(description="precomputed values")
    def fields_pretty(self, obj: StrategyExecutionLog) -> str:
        return _pretty(obj.fields)

    @admin.display(description="callback data")
    def callback_data_pretty(self, obj: StrategyExecutionLog) -> str:
        return _pretty(obj.callback_data)

    @admin.display(description="trace")
    def trace_pretty(self, obj: StrategyExecutionLog) -> str:
        return trace_table(obj.trace)

    @admin.display(description="replay")
    def replay_link(self, obj: StrategyExecutionLog) -> str:
        return format_html(
            '<a class="button" id="replay-link" href="{}">Replay this input</a>',
            reverse("admin:observability_strategyexecutionlog_replay", args=[obj.pk]),
        )

    @admin.display(description="dashboard")
    def dashboard_link(self, obj: StrategyExecutionLog) -> str:
        return self.strategy_link(obj)

    # -- custom pages ---------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/replay/",
                view(self.replay_view),
                name="observability_strategyexecutionlog_replay",
            ),
            path(
                "dashboard/", view(self.dashboard_index_view), name="observability_dashboard_index"
            ),
            path("dashboard/compare/", view(self.compare_view), name="observability_compare"),
            path(
                "dashboard/<str:strategy_id>/",
                view(self.dashboard_view),
                name="observability_dashboard",
            ),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            **extra,
        }

    def replay_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        log = self.get_object(request, object_id)
        if log is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        replay = execution_log_replay(log=log)
        columns = [
            ("Logged run", replay.logged, None),
            (
                f"Version that ran (v{log.strategy_version})",
                replay.ran_version,
                replay.ran_version_error,
            ),
            (
                "Current version"
                + (f" (v{replay.current_version['version']})" if replay.current_version else ""),
                replay.current_version,
                replay.current_version_error,
            ),
        ]
        rendered = [
            {
                "title": title,
                "result": result,
                "error": error,
                "trace": trace_table(result.get("trace")) if result else "",
                "callback": _pretty(result.get("callbackData")) if result else "",
            }
            for title, result, error in columns
        ]
        return TemplateResponse(
            request,
            "admin/observability/replay.html",
            self._context(request, title=f"Replay of {log.pk}", log=log, columns=rendered),
        )

    def dashboard_index_view(self, request: HttpRequest) -> HttpResponse:
        from strategies.models import StrategyDefinition

        strategies = [
            {
                "id": str(row["pk"]),
                "name": row["name"],
                "version": row["version"],
                "status": row["status"],
                "realm": row["realm__slug"],
            }
            for row in StrategyDefinition.objects.order_by(
                "realm__slug", "name", "-version"
            ).values("pk", "name", "version", "status", "realm__slug")[:500]
        ]
        return TemplateResponse(
            request,
            "admin/observability/dashboard_index.html",
            self._context(request, title="Strategy dashboards", strategies=strategies),
        )

    def _window(self, request: HttpRequest) -> tuple[Any, Any, str, str | None]:
        params = {k: v for k, v in request.GET.items() if v}
        if params.get("window") != "custom":
            params.pop("since", None)
            params.pop("until", None)
        try:
            since, until, window = window_parse(params)
            return since, until, window, None
        except ValidationError as error:
            since, until, window = window_parse({})
            return since, until, window, str(error.detail)

    def dashboard_view(self, request: HttpRequest, strategy_id: str) -> HttpResponse:
        since, until, window, problem = self._window(request)
        realm = _realm_param(request)
        stats = selectors.execution_log_stats(
            strategy_id=strategy_id, realm=realm, since=since, until=until
        )
        return TemplateResponse(
            request,
            "admin/observability/dashboard.html",
            self._context(
                request,
                title=f"Dashboard: {strategy_id}",
                strategy_id=strategy_id,
                realm=realm,
                window=window,
                windows=list(WINDOWS),
                since=since,
                until=until,
                problem=problem,
                panels=[dashboard_panel(stats, strategy_id=strategy_id)],
                list_url=reverse("admin:observability_strategyexecutionlog_changelist")
                + "?"
                + urlencode({"strategy": strategy_id}),
            ),
        )

    def compare_view(self, request: HttpRequest) -> HttpResponse:
        a, b = request.GET.get("a", "").strip(), request.GET.get("b", "").strip()
        since, until, window, problem = self._window(request)
        panels = []
        delta = None
        if a and b:
            stats_a = selectors.execution_log_stats(
                strategy_id=a, realm=None, since=since, until=until
            )
            stats_b = selectors.execution_log_stats(
                strategy_id=b, realm=None, since=since, until=until
            )
            panels = [
                dashboard_panel(stats_a, strategy_id=a, label="A"),
                dashboard_panel(stats_b, strategy_id=b, label="B"),
            ]
            delta = selectors.execution_log_compare(a=stats_a, b=stats_b)
        return TemplateResponse(
            request,
            "admin/observability/compare.html",
            self._context(
                request,
                title="Compare strategies (A/B)",
                a=a,
                b=b,
                window=window,
                windows=list(WINDOWS),
                since=since,
                until=until,
                problem=problem,
                panels=panels,
                delta=delta,
            ),
        )


def _realm_param(request: HttpRequest) -> Realm | None:
    """Return the realm of ``?realm=<id>``; operators see every realm by default."""
    raw = request.GET.get("realm", "")
    return Realm.objects.filter(pk=raw).first() if raw.isdigit() else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f} %"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


def dashboard_panel(stats: dict[str, Any], *, strategy_id: str, label: str = "") -> dict[str, Any]:
    """Return the cards and charts of one strategy's stats."""
    duration = stats["durationMs"]
    fmt = "%H:%M" if stats["bucket"] == "hour" else "%m-%d"
    series = stats["series"]
    return {
        "label": label,
        "strategy_id": strategy_id,
        "cards": [
            ("Runs (estimated)", _num(stats["estimatedRuns"]), f"{stats['rows']} rows logged"),
            ("Success rate", _pct(stats["successRate"]), "sampling-corrected"),
            ("Error rate", _pct(stats["errorRate"]), "sampling-corrected"),
            ("p50", _ms(duration["p50"]), "duration"),
            ("p95", _ms(duration["p95"]), "duration"),
            ("p99", _ms(duration["p99"]), "objective: 250 ms"),
            ("Avg points", _num(stats["points"]["avg"]), "ok runs"),
            ("Nodes", _num(stats["nodes"]["avg"]), f"avg; max {stats['nodes']['max'] or '-'}"),
        ],
        "status_mix": [
            (status, entry["rows"], _num(entry["estimated"]), _pct(entry["share"]))
            for status, entry in stats["statusMix"].items()
        ],
        "top_errors": stats["topErrors"],
        "top_cases": stats["topCases"],
        "duration_chart": charts.bar_chart(
            [
                (
                    "≤" + _num(bucket["leMs"]) if bucket["leMs"] is not None else "more",
                    bucket["estimated"],
                )
                for bucket in stats["durationHistogram"]
            ],
            title="Duration histogram (ms, estimated runs)",
        ),
        "points_chart": charts.bar_chart(
            [(_num(bucket["from"]), bucket["estimated"]) for bucket in stats["pointsHistogram"]],
            title="Points histogram (estimated runs)",
            color="#79aec8",
        ),
        "runs_chart": charts.line_chart(
            [(point["at"].strftime(fmt), point["estimatedRuns"]) for point in series],
            title="Runs over time (estimated)",
        ),
        "errors_chart": charts.line_chart(
            [(point["at"].strftime(fmt), (point["errorRate"] or 0) * 100) for point in series],
            title="Error rate over time (%)",
            color="#c62828",
        ),
    }


@admin.register(ExecutionLogDeadLetter)
class ExecutionLogDeadLetterAdmin(admin.ModelAdmin):
    """What the worker could not persist: read-only, for the operator's post-mortem."""

    list_display = ["created_at", "reason", "row_count", "payload_bytes", "realm", "short_detail"]
    list_filter = ["reason", RealmFilter]
    list_select_related = ["realm"]
    search_fields = ["=batch_id", "=row_id"]
    ordering = ["-created_at"]
    show_full_result_count = False
    paginator = BoundedCountPaginator
    fields = [
        "id",
        "created_at",
        "reason",
        "detail",
        "batch_id",
        "row_id",
        "row_count",
        "realm",
        "payload_bytes",
        "payload_pretty",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="detail")
    def short_detail(self, obj: ExecutionLogDeadLetter) -> str:
        return obj.detail[:120]

    @admin.display(description="payload")
    def payload_pretty(self, obj: ExecutionLogDeadLetter) -> str:
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", obj.payload)
