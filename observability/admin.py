"""The runbook: read-only execution logs, replay, and per-strategy dashboards in the admin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import flatten, flatten_fieldsets
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString

from gamification.access import Capability, realm_allowed
from gamification.admin_realms import RealmScopedAdmin, ScopedRealmFilter
from gamification.admin_site import AppPage, app_page_register
from observability import admin_views, presenters, selectors
from observability.models import ExecutionLogDeadLetter, StrategyExecutionLog
from observability.presenters import json_pretty, log_trace_table
from observability.windows import WINDOWS
from strategies.hooks import ChangePageLink, change_page_link_register
from strategies.models import StrategyDefinition

#: The admin never counts further than this; the changelist shows "N+" pages at most.
COUNT_CAP = 10_000

#: A list filter's ``(value, label)`` choices.
_Choices = list[tuple[str, str]]


class BoundedCountPaginator(Paginator):
    """Count at most ``COUNT_CAP`` rows: ``SELECT COUNT(*) FROM (... LIMIT n)``."""

    #: The admin's changelists paginate querysets.
    object_list: QuerySet[Any]

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[:COUNT_CAP].count()


class InputFilter(admin.SimpleListFilter):
    """A free-text exact filter: listing distinct values would scan the whole table."""

    template = "admin/observability/input_filter.html"
    field = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> _Choices:  # noqa: ARG002
        return [("", "")]

    def choices(self, changelist: Any) -> Any:
        query = {
            key: value
            for key, value in changelist.get_filters_params().items()
            if key != self.parameter_name
        }
        yield {"value": self.value() or "", "query": query, "parameter": self.parameter_name}

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:  # noqa: ARG002
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

    def lookups(self, request: HttpRequest, model_admin: Any) -> _Choices:  # noqa: ARG002
        return [
            ("1h", "Last hour"),
            ("24h", "Last 24 hours"),
            ("7d", "Last 7 days"),
            ("30d", "Last 30 days"),
        ]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:  # noqa: ARG002
        spans = {"1h": timedelta(hours=1), **WINDOWS}
        value = self.value()
        if value in spans:
            return queryset.filter(created_at__gte=timezone.now() - spans[value])
        return queryset


class ExecutionLogChangeList(ChangeList):
    """The runbook's list: the page's custom strategy names come in one query."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        rows = list(self.result_list)
        labels = selectors.strategy_labels(definition_ids=[row.definition_id for row in rows])
        for row in rows:
            row._page_strategy_labels = labels
        self.result_list = rows


@admin.register(StrategyExecutionLog)
class StrategyExecutionLogAdmin(RealmScopedAdmin):
    """Operators' reading of the runs of their realms; other realms' rows do not exist here."""

    view_capability = Capability.OPERATE
    change_capability = Capability.OPERATE
    # Sized to fit a 1,400 px window beside the filters; the rest is on the detail page.
    list_display = [
        "created",
        "strategy_link",
        "status_badge",
        "points",
        "case",
        "duration",
        "realm_slug",
        "user",
    ]
    list_filter = [
        ScopedRealmFilter,
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
                    "analytics_pretty",
                    "parent_data_pretty",
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
    readonly_fields = flatten_fieldsets(fieldsets)

    def has_add_permission(self, request: HttpRequest) -> bool:  # noqa: ARG002
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002
        return False

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:  # noqa: ARG002
        return ExecutionLogChangeList

    def _strategy_labels(self, obj: StrategyExecutionLog) -> dict[Any, selectors.StrategyLabel]:
        """The names of the page's custom strategies, read once for the page (or the row)."""
        labels = getattr(obj, "_page_strategy_labels", None)
        if labels is None:
            labels = selectors.strategy_labels(definition_ids=[obj.definition_id])
        return labels

    @admin.display(description="created at", ordering="created_at")
    def created(self, obj: StrategyExecutionLog) -> str:
        return presenters.moment(obj.created_at)

    @admin.display(description="strategy", ordering="strategy_id")
    def strategy_link(self, obj: StrategyExecutionLog) -> SafeString:
        key = str(obj.definition_id) if obj.definition_id else obj.strategy_id
        label = self._strategy_labels(obj).get(obj.definition_id) if obj.definition_id else None
        if label is not None and label.realm_id == obj.realm_id:
            text = label.label
        elif obj.definition_id:
            text = f"{obj.strategy_id} v{obj.strategy_version}"
        else:
            text = obj.strategy_id
        return format_html(
            '<a class="execlog-clip" href="{}" title="{}">{}</a>',
            reverse("admin:observability_dashboard", args=[key]),
            obj.strategy_id,
            text,
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: StrategyExecutionLog) -> SafeString:
        return presenters.status_badge(status=obj.status, error_code=obj.error_code)

    @admin.display(description="case", ordering="case_name")
    def case(self, obj: StrategyExecutionLog) -> SafeString:
        return presenters.clipped(obj.case_name or "")

    @admin.display(description="realm", ordering="realm__slug")
    def realm_slug(self, obj: StrategyExecutionLog) -> SafeString:
        return presenters.clipped(obj.realm.slug if obj.realm else "")

    @admin.display(description="user", ordering="external_user_id")
    def user(self, obj: StrategyExecutionLog) -> SafeString:
        return presenters.clipped(obj.external_user_id)

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, obj: StrategyExecutionLog) -> str:
        return presenters.duration(obj.duration_ms)

    @admin.display(description="input data")
    def data_pretty(self, obj: StrategyExecutionLog) -> str:
        return json_pretty(obj.data)

    @admin.display(description="precomputed values")
    def fields_pretty(self, obj: StrategyExecutionLog) -> str:
        return json_pretty(obj.fields)

    @admin.display(description="analytics read")
    def analytics_pretty(self, obj: StrategyExecutionLog) -> str:
        if obj.analytics is None:
            return format_html("<p>{}</p>", "Not recorded (logged before analytics were).")
        return json_pretty(obj.analytics)

    @admin.display(description="data handed to the parent")
    def parent_data_pretty(self, obj: StrategyExecutionLog) -> str:
        if obj.parent_data is None:
            return "-"
        return json_pretty(obj.parent_data)

    @admin.display(description="callback data")
    def callback_data_pretty(self, obj: StrategyExecutionLog) -> str:
        return json_pretty(obj.callback_data)

    @admin.display(description="trace")
    def trace_pretty(self, obj: StrategyExecutionLog) -> str:
        return log_trace_table(obj)

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
        def page(view_class: type[admin_views.View]) -> Any:
            return self.admin_site.admin_view(view_class.as_view(model_admin=self))

        return [
            path(
                "<path:object_id>/replay/",
                page(admin_views.ReplayView),
                name="observability_strategyexecutionlog_replay",
            ),
            path(
                "dashboard/",
                page(admin_views.DashboardIndexView),
                name="observability_dashboard_index",
            ),
            path("dashboard/compare/", page(admin_views.CompareView), name="observability_compare"),
            path(
                "dashboard/family/<uuid:definition_id>/",
                page(admin_views.FamilyDashboardView),
                name="observability_family_dashboard",
            ),
            path(
                "dashboard/<str:strategy_id>/",
                page(admin_views.DashboardView),
                name="observability_dashboard",
            ),
            *super().get_urls(),
        ]


def strategy_dashboard_link(
    *, request: HttpRequest, strategy: StrategyDefinition
) -> ChangePageLink | None:
    """Link a version's change page to its strategy's dashboard, for its realm's operators."""
    if not request.user.has_perm("observability.view_strategyexecutionlog"):
        return None
    if not realm_allowed(
        user=request.user, capability=Capability.OPERATE, realm_id=strategy.realm_id
    ):
        return None
    return ChangePageLink(
        name="dashboard",
        label="Dashboard",
        url=reverse("admin:observability_family_dashboard", args=[strategy.pk]),
    )


change_page_link_register(name="dashboard", link=strategy_dashboard_link)
app_page_register(
    AppPage(
        model=StrategyExecutionLog,
        name="Strategy dashboards",
        url_name="observability_dashboard_index",
    )
)


@admin.register(ExecutionLogDeadLetter)
class ExecutionLogDeadLetterAdmin(RealmScopedAdmin):
    """What the worker could not persist: read-only, for the operator's post-mortem.

    Operators see their realms' rows; a batch that could not be read has no realm, and its
    payload may hold any realm's runs, so only superusers see it.
    """

    view_capability = Capability.OPERATE
    change_capability = Capability.OPERATE
    list_display = ["created_at", "reason", "row_count", "payload_bytes", "realm", "short_detail"]
    list_filter = ["reason", ScopedRealmFilter]
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
    readonly_fields = flatten(fields)

    def has_add_permission(self, request: HttpRequest) -> bool:  # noqa: ARG002
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002
        return False

    @admin.display(description="detail")
    def short_detail(self, obj: ExecutionLogDeadLetter) -> str:
        return obj.detail[:120]

    @admin.display(description="payload")
    def payload_pretty(self, obj: ExecutionLogDeadLetter) -> str:
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", obj.payload)
