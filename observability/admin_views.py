"""The runbook's custom admin pages: dashboards, A/B compare and replay of a logged run.

Each view is mounted by :class:`observability.admin.StrategyExecutionLogAdmin.get_urls`
through ``admin_site.admin_view`` (so the admin's login and staff checks apply), the way
``django.contrib.admin`` mounts its autocomplete view.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View

from observability import presenters, selectors
from observability.services import execution_log_replay
from observability.windows import WINDOWS, window_of_form


class _AdminPage(View):
    model_admin: admin.ModelAdmin = None  # type: ignore[assignment]

    def context(self, request: HttpRequest, **extra: Any) -> dict[str, Any]:
        return {
            **self.model_admin.admin_site.each_context(request),
            "opts": self.model_admin.model._meta,
            **extra,
        }


class ReplayView(_AdminPage):
    def get(self, request: HttpRequest, object_id: str) -> HttpResponse:
        model_admin = self.model_admin
        log = model_admin.get_object(request, object_id)
        if log is None:
            # The admin's own "does not exist" redirect: private, so the stubs omit it.
            return model_admin._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]
                request, model_admin.model._meta, object_id
            )
        columns = presenters.replay_columns(log=log, replay=execution_log_replay(log=log))
        return TemplateResponse(
            request,
            "admin/observability/replay.html",
            self.context(request, title=f"Replay of {log.pk}", log=log, columns=columns),
        )


class DashboardIndexView(_AdminPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        return TemplateResponse(
            request,
            "admin/observability/dashboard_index.html",
            self.context(
                request,
                title="Strategy dashboards",
                strategies=selectors.strategy_dashboard_list(),
            ),
        )


class DashboardView(_AdminPage):
    def get(self, request: HttpRequest, strategy_id: str) -> HttpResponse:
        window, problem = window_of_form(request.GET)
        # Operators see every realm unless ?realm=<id> narrows it.
        realm = selectors.realm_get(realm_id=request.GET.get("realm", ""))
        stats = selectors.execution_log_stats(
            strategy_id=strategy_id, realm=realm, since=window.since, until=window.until
        )
        return TemplateResponse(
            request,
            "admin/observability/dashboard.html",
            self.context(
                request,
                title=f"Dashboard: {strategy_id}",
                strategy_id=strategy_id,
                realm=realm,
                window=window.name,
                windows=list(WINDOWS),
                since=window.since,
                until=window.until,
                problem=problem,
                panels=[presenters.dashboard_panel(stats, strategy_id=strategy_id)],
                list_url=reverse("admin:observability_strategyexecutionlog_changelist")
                + "?"
                + urlencode({"strategy": strategy_id}),
            ),
        )


class CompareView(_AdminPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        a, b = request.GET.get("a", "").strip(), request.GET.get("b", "").strip()
        window, problem = window_of_form(request.GET)
        panels = []
        delta = None
        if a and b:
            stats_a, stats_b = (
                selectors.execution_log_stats(
                    strategy_id=side, realm=None, since=window.since, until=window.until
                )
                for side in (a, b)
            )
            panels = [
                presenters.dashboard_panel(stats_a, strategy_id=a, label="A"),
                presenters.dashboard_panel(stats_b, strategy_id=b, label="B"),
            ]
            delta = selectors.execution_log_compare(a=stats_a, b=stats_b)
        return TemplateResponse(
            request,
            "admin/observability/compare.html",
            self.context(
                request,
                title="Compare strategies (A/B)",
                a=a,
                b=b,
                window=window.name,
                windows=list(WINDOWS),
                since=window.since,
                until=window.until,
                problem=problem,
                panels=panels,
                delta=presenters.compare_delta(delta),
            ),
        )
