"""The runbook's custom admin pages: dashboards, A/B compare and replay of a logged run.

Each view is mounted by :class:`observability.admin.StrategyExecutionLogAdmin.get_urls`
through ``admin_site.admin_view`` (so the admin's login and staff checks apply), the way
``django.contrib.admin`` mounts its autocomplete view.

Every page is an operator's: without the log's view permission in some realm where the user
operates, the page itself is refused (403). What a page reads is the rows of the realms the
user operates; naming another realm (``?realm=``) or another realm's strategy is a 404, so a
page never confirms that someone else's strategy exists.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View

from gamification.access import Capability, realm_ids_allowed
from gamification.models import Realm
from gamification.strategy_ids import strategy_uuid
from observability import presenters, selectors
from observability.services import execution_log_replay
from observability.windows import WINDOWS, window_of_form


class _AdminPage(View):
    model_admin: admin.ModelAdmin = None  # type: ignore[assignment]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not self.model_admin.has_view_permission(request):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def context(self, request: HttpRequest, **extra: Any) -> dict[str, Any]:
        return {
            **self.model_admin.admin_site.each_context(request),
            "opts": self.model_admin.model._meta,
            **extra,
        }


class _OperatorScope:
    """The realms a dashboard reads: the user's operated realms, narrowed by ``?realm=``."""

    def __init__(self, request: HttpRequest) -> None:
        self.realm_ids = realm_ids_allowed(user=request.user, capability=Capability.OPERATE)
        self.realm: Realm | None = None
        raw = request.GET.get("realm", "").strip()
        if raw:
            self.realm = selectors.realm_get(realm_id=raw, realm_ids=self.realm_ids)
            if self.realm is None:
                raise Http404("No such realm.")

    def strategy_name(self, strategy_id: str) -> str:
        """Return what to call ``strategy_id``; 404 for a custom one the user cannot read.

        A version of a realm not operated answers like one that never existed. A version
        deleted since keeps its logs, so it has a dashboard while operated realms hold them.
        """
        pk = strategy_uuid(strategy_id)
        if pk is None:
            return strategy_id
        label = selectors.strategy_labels(definition_ids=[pk]).get(pk)
        if label is not None and (self.realm_ids is None or label.realm_id in self.realm_ids):
            return label.label
        if label is None and selectors.execution_log_exists(
            strategy_id=strategy_id, realm_ids=self.realm_ids
        ):
            return strategy_id
        raise Http404("No such strategy.")


class ReplayView(_AdminPage):
    def get(self, request: HttpRequest, object_id: str) -> HttpResponse:
        model_admin = self.model_admin
        log = model_admin.get_object(request, object_id)
        if log is None:
            raise Http404("No execution log matches the given query.")
        replay = execution_log_replay(log=log)
        return TemplateResponse(
            request,
            "admin/observability/replay.html",
            self.context(
                request,
                title=f"Replay of {log.pk}",
                log=log,
                columns=presenters.replay_columns(log=log, replay=replay),
                notes=replay.notes,
                inputs_data=presenters.json_pretty(replay.inputs.event.data),
                inputs_analytics=presenters.json_pretty(replay.inputs.analytics),
            ),
        )


class DashboardIndexView(_AdminPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        realm_ids = realm_ids_allowed(user=request.user, capability=Capability.OPERATE)
        return TemplateResponse(
            request,
            "admin/observability/dashboard_index.html",
            self.context(
                request,
                title="Strategy dashboards",
                strategies=selectors.strategy_dashboard_list(realm_ids=realm_ids),
            ),
        )


class DashboardView(_AdminPage):
    def get(self, request: HttpRequest, strategy_id: str) -> HttpResponse:
        scope = _OperatorScope(request)
        name = scope.strategy_name(strategy_id)
        window, problem = window_of_form(request.GET)
        stats = selectors.execution_log_stats(
            strategy_id=strategy_id,
            realm=scope.realm,
            realm_ids=scope.realm_ids,
            since=window.since,
            until=window.until,
        )
        return TemplateResponse(
            request,
            "admin/observability/dashboard.html",
            self.context(
                request,
                title=f"Dashboard: {name}",
                strategy_id=strategy_id,
                strategy_name=name,
                realm=scope.realm,
                window=window.name,
                windows=list(WINDOWS),
                since=window.since,
                until=window.until,
                problem=problem,
                panels=[presenters.dashboard_panel(stats, strategy_id=strategy_id, name=name)],
                list_url=reverse("admin:observability_strategyexecutionlog_changelist")
                + "?"
                + urlencode({"strategy": strategy_id}),
            ),
        )


class CompareView(_AdminPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        scope = _OperatorScope(request)
        a, b = request.GET.get("a", "").strip(), request.GET.get("b", "").strip()
        window, problem = window_of_form(request.GET)
        panels = []
        delta = None
        if a and b:
            names = {side: scope.strategy_name(side) for side in (a, b)}
            stats_a, stats_b = (
                selectors.execution_log_stats(
                    strategy_id=side,
                    realm=scope.realm,
                    realm_ids=scope.realm_ids,
                    since=window.since,
                    until=window.until,
                )
                for side in (a, b)
            )
            panels = [
                presenters.dashboard_panel(stats_a, strategy_id=a, name=names[a], label="A"),
                presenters.dashboard_panel(stats_b, strategy_id=b, name=names[b], label="B"),
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
                realm=scope.realm,
                window=window.name,
                windows=list(WINDOWS),
                since=window.since,
                until=window.until,
                problem=problem,
                panels=panels,
                delta=presenters.compare_delta(delta),
            ),
        )
