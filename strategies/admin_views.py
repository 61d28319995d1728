"""The designer's custom admin pages: versions, diff, lifecycle confirmations, editor endpoints.

``StrategyAdminViews`` is mixed into ``StrategyDefinitionAdmin`` (a ``RealmScopedAdmin``);
each view finds its object among the realms the user may see (another realm's id is a 404),
checks the role the action needs in that object's realm, calls one service or selector and
renders.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from gamification.access import Capability, realm_ids_allowed
from gamification.errors import DomainError
from strategies import backtests, selectors, services
from strategies.charts import number as chart_number
from strategies.charts import paired_bars
from strategies.diff import strategy_diff
from strategies.editor import (
    EditorRequest,
    defaults_answer,
    editor_request_parse,
    simulation_answer,
    validation_answer,
)
from strategies.errors import BacktestNotFound, StrategyInvalid, StrategyVersionNotFound
from strategies.forms import BacktestForm
from strategies.models import Backtest, StrategyDefinition
from strategies.programs import program_check
from strategies.serializers import backtest_body
from strategies.simulation import simulation_defaults, simulation_run
from strategies.trace_tree import trace_tree

PERMISSION = "strategies.%s_strategydefinition"
NAME = "strategies_strategydefinition"
TEMPLATES = "admin/strategies/strategydefinition/"

#: The capability each custom action needs in the realm of the version it acts on.
ACTION_CAPABILITIES = {
    "publish": Capability.PUBLISH,
    "archive": Capability.PUBLISH,
    "rollback": Capability.PUBLISH,
    "simulate": Capability.DESIGN,
    "backtest": Capability.DESIGN,
}
#: The window a backtest form starts with.
BACKTEST_DAYS = 7
#: Case names a backtest page draws; the table lists them all.
CHART_CASES = 16

if TYPE_CHECKING:
    # What the mixin is mixed into: its views use the admin site, options and permissions.
    from gamification.admin_realms import RealmScopedAdmin

    _AdminBase = RealmScopedAdmin
else:
    _AdminBase = object


class StrategyAdminViews(_AdminBase):
    """The views and URLs a ``ModelAdmin`` of ``StrategyDefinition`` adds to the contrib ones."""

    def custom_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("simulate/", wrap(self.simulate_view), name=f"{NAME}_simulate"),
            path(
                "simulate/defaults/",
                wrap(self.simulate_defaults_view),
                name=f"{NAME}_simulate_defaults",
            ),
            path("validate/", wrap(self.validate_view), name=f"{NAME}_validate"),
            path("<uuid:object_id>/versions/", wrap(self.versions_view), name=f"{NAME}_versions"),
            path("<uuid:object_id>/diff/", wrap(self.diff_view), name=f"{NAME}_diff"),
            path("<uuid:object_id>/backtest/", wrap(self.backtest_view), name=f"{NAME}_backtest"),
            path(
                "backtests/<uuid:backtest_id>/",
                wrap(self.backtest_detail_view),
                name=f"{NAME}_backtest_detail",
            ),
            path(
                "backtests/<uuid:backtest_id>/status/",
                wrap(self.backtest_status_view),
                name=f"{NAME}_backtest_status",
            ),
            *(
                path(
                    f"<uuid:object_id>/{action}/",
                    wrap(self.transition_view),
                    {"action": action},
                    name=f"{NAME}_{action}",
                )
                for action in ("publish", "archive")
            ),
            path(
                "<uuid:object_id>/rollback/<int:version>/",
                wrap(self.transition_view),
                {"action": "rollback"},
                name=f"{NAME}_rollback",
            ),
        ]

    # -- permissions of the custom actions ---------------------------------------------------
    # Without ``obj`` (the list's actions, the add page): the role in at least one realm.
    def has_publish_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._has(request, "publish", obj)

    def has_archive_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._has(request, "archive", obj)

    def has_rollback_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._has(request, "rollback", obj)

    def has_simulate_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._has(request, "simulate", obj)

    def has_backtest_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._has(request, "backtest", obj)

    # -- helpers ---------------------------------------------------------------------------
    def _has(self, request: HttpRequest, action: str, obj: Any = None) -> bool:
        return request.user.has_perm(PERMISSION % action) and self.realm_allows(
            request, obj, ACTION_CAPABILITIES[action]
        )

    def _require(self, request: HttpRequest, action: str, obj: Any = None) -> None:
        if not self._has(request, action, obj):
            raise PermissionDenied

    def _url(self, view: str, *args: Any) -> str:
        return reverse(f"admin:{NAME}_{view}", args=args)

    def _get(self, request: HttpRequest, object_id: Any) -> StrategyDefinition:
        """The version of the URL, among the realms the user may see; else a 404."""
        obj = selectors.strategy_find(
            pk=object_id,
            realm_ids=realm_ids_allowed(user=request.user, capability=self.view_capability),
        )
        if obj is None or not self.has_view_or_change_permission(request, obj):
            raise Http404("No StrategyDefinition matches the given query.")
        return obj

    def switch_log(self, request: HttpRequest, action: str, switch: services.Switch) -> None:
        """Record a lifecycle step on the History page of each version it changed."""
        self.log_change(request, switch.strategy, _done(action, switch))
        if switch.previous is not None:
            self.log_change(
                request,
                switch.previous,
                f"Archived: v{switch.strategy.version} went live in its place.",
            )

    def _page(self, request: HttpRequest, template: str, title: str, **context: Any):
        return TemplateResponse(
            request,
            TEMPLATES + template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                **context,
            },
        )

    # -- pages -----------------------------------------------------------------------------
    def versions_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        obj = self._get(request, object_id)
        games, tasks = selectors.strategy_usage_counts(strategy=obj)
        return self._page(
            request,
            "versions.html",
            f"Versions of {obj.name}",
            strategy=obj,
            versions=list(selectors.strategy_versions(strategy=obj)),
            usage_games=games,
            usage_tasks=tasks,
            can_publish=self.has_publish_permission(request, obj),
            can_archive=self.has_archive_permission(request, obj),
            can_rollback=self.has_rollback_permission(request, obj),
            can_backtest=self.has_backtest_permission(request, obj),
        )

    def diff_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        obj = self._get(request, object_id)
        try:
            old, new = selectors.strategy_version_pair(
                strategy=obj,
                old=int(request.GET.get("a", obj.version - 1 or 1)),
                new=int(request.GET.get("b", obj.version)),
            )
        except (StrategyVersionNotFound, ValueError):
            messages.error(request, "Pick two existing versions to compare.")
            return HttpResponseRedirect(self._url("versions", obj.pk))
        return self._page(
            request,
            "diff.html",
            f"{obj.name}: v{old.version} → v{new.version}",
            strategy=obj,
            old=old,
            new=new,
            diff=strategy_diff(old=old, new=new),
            old_json=json.dumps(old.ast_json, indent=2),
            new_json=json.dumps(new.ast_json, indent=2),
        )

    def transition_view(
        self, request: HttpRequest, object_id: Any, action: str, version: int | None = None
    ) -> HttpResponse:
        obj = self._get(request, object_id)
        self._require(request, action, obj)
        if request.method != "POST":
            preview = selectors.strategy_transition_preview(
                strategy=obj, action=action, version=version
            )
            return self._page(
                request,
                "confirm.html",
                f"{action.title()} {obj.name} v{preview.target}?",
                strategy=obj,
                action=action,
                target=preview.target,
                blast=preview.blast,
            )
        try:
            switch = services.strategy_transition(
                strategy=obj, action=action, version=version, actor=request.user
            )
        except StrategyInvalid as error:
            messages.error(request, _problems(error))
            return HttpResponseRedirect(self._url("change", obj.pk))
        except DomainError as error:
            messages.error(request, error.detail)
            return HttpResponseRedirect(self._url("versions", obj.pk))
        self.switch_log(request, action, switch)
        messages.success(request, _done(action, switch))
        return HttpResponseRedirect(self._url("versions", obj.pk))

    def backtest_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        """The backtest form of a version; a valid one queues the backtest and shows it."""
        obj = self._get(request, object_id)
        self._require(request, "backtest", obj)
        form = BacktestForm(
            request.POST if request.method == "POST" else None,
            initial={
                "since": (timezone.now() - timedelta(days=BACKTEST_DAYS)).replace(microsecond=0),
                "max_events": min(100_000, settings.BACKTEST_MAX_EVENTS),
            },
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                backtest = backtests.backtest_request(
                    strategy=obj,
                    since=data["since"],
                    until=data["until"],
                    max_events=data["max_events"],
                    actor=request.user,
                )
            except StrategyInvalid as error:
                form.add_error(None, _problems(error, "Cannot backtest"))
            except DomainError as error:
                form.add_error(None, error.detail)
            else:
                return HttpResponseRedirect(self._url("backtest_detail", backtest.pk))
        return self._page(
            request,
            "backtest_form.html",
            f"Backtest {obj.name} v{obj.version}",
            strategy=obj,
            form=form,
            usage_tasks=selectors.strategy_usage_counts(strategy=obj)[1],
            recent=backtests.backtest_list(strategy=obj),
        )

    def _backtest(self, request: HttpRequest, backtest_id: Any) -> Backtest:
        """The backtest of the URL, if the user may backtest its strategy; else a 404/403."""
        try:
            backtest = backtests.backtest_get(
                backtest_id=backtest_id,
                realm_ids=realm_ids_allowed(user=request.user, capability=self.view_capability),
            )
        except BacktestNotFound:
            raise Http404("No backtest matches the given query.") from None
        self._require(request, "backtest", backtest.strategy)
        return backtest

    def backtest_detail_view(self, request: HttpRequest, backtest_id: Any) -> HttpResponse:
        backtest = self._backtest(request, backtest_id)
        body = backtest_body(backtest)
        return self._page(
            request,
            "backtest.html",
            f"Backtest of {backtest.strategy.name} v{backtest.strategy.version}",
            strategy=backtest.strategy,
            backtest=backtest,
            report=body,
            **(_report_context(body) if backtest.status == "done" else {}),
        )

    def backtest_status_view(self, request: HttpRequest, backtest_id: Any) -> JsonResponse:
        """What the backtest page polls: the API's body of the backtest."""
        return JsonResponse(backtest_body(self._backtest(request, backtest_id)))

    # -- JSON endpoints of the editor ------------------------------------------------------
    def simulate_view(self, request: HttpRequest) -> JsonResponse:
        """Run the editor's program in the realm it names, one the user designs in."""
        self._require(request, "simulate")
        if request.method != "POST":
            return JsonResponse({"code": "METHOD_NOT_ALLOWED"}, status=405)
        try:
            body = _body(request, simulation=True)
            realm = selectors.simulation_realm_get(
                realm_id=body.realm_id,
                realm_ids=realm_ids_allowed(
                    user=request.user, capability=ACTION_CAPABILITIES["simulate"]
                ),
            )
            simulation = simulation_run(
                realm=realm,
                type=body.type,
                parent_strategy_id=body.parent_strategy_id,
                ast_json=body.ast_json,
                external_user_id=body.external_user_id,
                data=body.data,
                mock_state=body.mock_state,
                external_game_id=body.external_game_id,
                external_task_id=body.external_task_id,
            )
        except DomainError as error:
            return JsonResponse(error.as_body(), status=error.http_status)
        tree = TemplateResponse(
            request,
            TEMPLATES + "_trace_tree.html",
            {"tree": trace_tree(ast=simulation.program_ast, trace=simulation.trace)},
        ).rendered_content
        return JsonResponse(simulation_answer(simulation, tree_html=tree))

    def simulate_defaults_view(self, request: HttpRequest) -> JsonResponse:
        self._require(request, "simulate")
        try:
            body = _body(request)
        except DomainError as error:
            return JsonResponse(error.as_body(), status=error.http_status)
        defaults = simulation_defaults(
            type=body.type, parent_strategy_id=body.parent_strategy_id, ast_json=body.ast_json
        )
        return JsonResponse(defaults_answer(defaults))

    def validate_view(self, request: HttpRequest) -> JsonResponse:
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        try:
            body = _body(request)
            check = program_check(
                parent_strategy_id=body.parent_strategy_id, ast_json=body.ast_json
            )
        except DomainError as error:
            return JsonResponse(error.as_body(), status=error.http_status)
        return JsonResponse(validation_answer(check))


def _body(request: HttpRequest, *, simulation: bool = False) -> EditorRequest:
    return editor_request_parse(
        raw=request.body, encoding=request.encoding or "utf-8", simulation=simulation
    )


def _report_context(body: dict[str, Any]) -> dict[str, Any]:
    """Return the charts and tables of a finished backtest's page."""
    before, after = body["caseNames"]["before"], body["caseNames"]["after"]
    names = sorted(
        set(before) | set(after), key=lambda n: (-max(before.get(n, 0), after.get(n, 0)), n)
    )
    cases = [(name, before.get(name, 0), after.get(name, 0)) for name in names]
    bins = [
        (
            chart_number(b["low"])
            if b["low"] == b["high"]
            else f"{chart_number(b['low'])} to {chart_number(b['high'])}",
            b["before"],
            b["after"],
        )
        for b in body["pointsDistribution"]
    ]
    return {
        "distribution_chart": paired_bars(bins, title="Events by points: awarded and this version"),
        "cases_chart": paired_bars(cases[:CHART_CASES], title="Events by case name"),
        "cases": [{"name": n, "before": b, "after": a, "delta": a - b} for n, b, a in cases],
        "points_delta": body["pointsAfter"] - body["pointsBefore"],
        "movers": [{**m, "delta": m["after"] - m["before"]} for m in body["topMovers"]],
    }


def _problems(error: StrategyInvalid, verb: str = "Cannot publish") -> str:
    return f"{verb}: the program has problems: " + "; ".join(
        f"{e['pointer'] or '/'}: {e['message']}" for e in error.errors
    )


def _done(action: str, switch: services.Switch) -> str:
    """Say what a lifecycle step did: "Published v3 (2 games, 1 task switched)."."""
    games, tasks = switch.games, switch.tasks
    moved = f"{games} game{'s' if games != 1 else ''}, {tasks} task{'s' if tasks != 1 else ''}"
    if action == "publish":
        return f"Published v{switch.strategy.version} ({moved} switched)."
    if action == "archive":
        return f"Archived v{switch.strategy.version}."
    return f"Rolled back to v{switch.strategy.version} ({moved} switched)."
