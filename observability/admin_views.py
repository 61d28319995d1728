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

import uuid
from collections.abc import Collection
from dataclasses import dataclass
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
from gamification.strategy_ids import custom_strategy_id, strategy_uuid
from observability import presenters, selectors
from observability.bins import PointsRange
from observability.services import execution_log_replay
from observability.stats import ExecutionLogStats
from observability.windows import WINDOWS, StatsWindow, window_of_form
from scoring.builtins.registry import builtin_list


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


FAMILY_PREFIX = "family:"


@dataclass(frozen=True, slots=True)
class _Subject:
    """What a dashboard, or one side of a comparison, reads: a built-in, a version or a family.

    ``ref`` is how a form or a link names it: a built-in's id, a version's UUID (bare or
    ``custom:``) or ``family:<uuid of one of its versions>`` for every version of a family.
    """

    ref: str
    #: What the stats call it.
    strategy_id: str
    #: What the page calls it: never a bare UUID while the version exists.
    name: str
    #: The versions read, for a family; None: the rows of ``strategy_id``.
    definition_ids: list[uuid.UUID] | None = None
    family: selectors.StrategyFamily | None = None
    #: The version read, if one version of a known family.
    version: selectors.FamilyVersion | None = None


def family_title(family: selectors.StrategyFamily) -> str:
    """Return ``speed, all versions (v1-v3)``, the name of a family's whole dashboard."""
    numbers = sorted(version.version for version in family.versions)
    span = f"v{numbers[0]}" if len(numbers) == 1 else f"v{numbers[0]}\u2013v{numbers[-1]}"
    return f"{family.name}, all versions ({span})"


def family_subject(family: selectors.StrategyFamily) -> _Subject:
    ref = f"{FAMILY_PREFIX}{family.key}"
    return _Subject(
        ref=ref,
        strategy_id=ref,
        name=family_title(family),
        definition_ids=family.definition_ids,
        family=family,
    )


def version_subject(family: selectors.StrategyFamily, version: selectors.FamilyVersion) -> _Subject:
    return _Subject(
        ref=str(version.id),
        strategy_id=custom_strategy_id(version.id),
        name=f"{family.name} v{version.version}",
        family=family,
        version=version,
    )


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

    @property
    def listed_realm_ids(self) -> Collection[int] | None:
        """The realms whose strategies a picker offers."""
        return [self.realm.pk] if self.realm is not None else self.realm_ids

    def family(self, definition_id: uuid.UUID) -> selectors.StrategyFamily:
        """Return the family of a version; 404 for a version the user cannot read."""
        family = selectors.strategy_family_get(
            definition_id=definition_id, realm_ids=self.realm_ids
        )
        if family is None:
            raise Http404("No such strategy.")
        return family

    def subject(self, ref: str) -> _Subject:
        """Return what ``ref`` names; 404 for a custom one the user cannot read.

        A version of a realm not operated answers like one that never existed. A version
        deleted since keeps its logs, so it has a dashboard while operated realms hold them.
        """
        if ref.startswith(FAMILY_PREFIX):
            pk = strategy_uuid(ref.removeprefix(FAMILY_PREFIX))
            if pk is None:
                raise Http404("No such strategy.")
            return family_subject(self.family(pk))
        pk = strategy_uuid(ref)
        if pk is None:
            return _Subject(ref=ref, strategy_id=ref, name=ref)
        family = selectors.strategy_family_get(definition_id=pk, realm_ids=self.realm_ids)
        version = family.version_of(pk) if family is not None else None
        if family is not None and version is not None:
            return version_subject(family, version)
        if selectors.strategy_labels(definition_ids=[pk]).get(pk) is None and (
            selectors.execution_log_exists(strategy_id=ref, realm_ids=self.realm_ids)
        ):
            return _Subject(ref=ref, strategy_id=ref, name=ref)
        raise Http404("No such strategy.")

    def realms_of(self, subject: _Subject) -> Collection[int] | None:
        """The realms whose rows count for ``subject``: a custom strategy's own realm only."""
        return [subject.family.realm_id] if subject.family is not None else self.realm_ids

    def stats(self, subject: _Subject, window: StatsWindow, **extra: Any) -> ExecutionLogStats:
        return selectors.execution_log_stats(
            strategy_id=subject.strategy_id,
            definition_ids=subject.definition_ids,
            realm=self.realm,
            realm_ids=self.realms_of(subject),
            since=window.since,
            until=window.until,
            **extra,
        )

    def points_range(self, subject: _Subject, window: StatsWindow) -> PointsRange | None:
        return selectors.execution_log_points_range(
            strategy_id=subject.strategy_id,
            definition_ids=subject.definition_ids,
            realm=self.realm,
            realm_ids=self.realms_of(subject),
            since=window.since,
            until=window.until,
        )


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


def _window_context(
    scope: _OperatorScope, window: StatsWindow, problem: str | None
) -> dict[str, Any]:
    return {
        "realm": scope.realm,
        "window": window.name,
        "windows": list(WINDOWS),
        "since": window.since,
        "until": window.until,
        "problem": problem,
    }


class DashboardIndexView(_AdminPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        scope = _OperatorScope(request)
        families = selectors.strategy_family_list(realm_ids=scope.listed_realm_ids)
        return TemplateResponse(
            request,
            "admin/observability/dashboard_index.html",
            self.context(
                request,
                title="Strategy dashboards",
                families=presenters.family_rows(families),
                choices=presenters.strategy_choices(
                    families=families, builtins=[s.id for s in builtin_list()]
                ),
            ),
        )


class FamilyDashboardView(_AdminPage):
    """Every version of a custom strategy over a window, or one of them (``?version=N``)."""

    def get(self, request: HttpRequest, definition_id: uuid.UUID) -> HttpResponse:
        scope = _OperatorScope(request)
        family = scope.family(definition_id)
        raw = request.GET.get("version", "").strip()
        # isdigit() admits digits int() refuses (superscripts) and int() refuses past 4300.
        version = family.version_get(int(raw)) if raw.isdecimal() and len(raw) <= 9 else None
        if raw and version is None:
            raise Http404("No such version.")
        return _family_dashboard(self, request, scope=scope, family=family, version=version)


class DashboardView(_AdminPage):
    """One strategy's dashboard: a built-in, or a custom version (within its family's page)."""

    def get(self, request: HttpRequest, strategy_id: str) -> HttpResponse:
        scope = _OperatorScope(request)
        subject = scope.subject(strategy_id)
        if subject.family is not None and subject.version is not None:
            return _family_dashboard(
                self, request, scope=scope, family=subject.family, version=subject.version
            )
        window, problem = window_of_form(request.GET)
        stats = scope.stats(subject, window)
        return TemplateResponse(
            request,
            "admin/observability/dashboard.html",
            self.context(
                request,
                title=f"Dashboard: {subject.name}",
                strategy_id=strategy_id,
                strategy_name=subject.name,
                compare_ref=subject.ref,
                **_window_context(scope, window, problem),
                panels=[
                    presenters.dashboard_panel(stats, strategy_id=strategy_id, name=subject.name)
                ],
                list_url=_list_url(strategy_id),
            ),
        )


def _list_url(strategy: str) -> str:
    return (
        reverse("admin:observability_strategyexecutionlog_changelist")
        + "?"
        + urlencode({"strategy": strategy})
    )


def _family_dashboard(
    page: _AdminPage,
    request: HttpRequest,
    *,
    scope: _OperatorScope,
    family: selectors.StrategyFamily,
    version: selectors.FamilyVersion | None,
) -> HttpResponse:
    """Render a family's dashboard, of every version or of ``version``."""
    window, problem = window_of_form(request.GET)
    runs = selectors.execution_log_version_runs(
        definition_ids=family.definition_ids,
        realm=scope.realm,
        realm_ids=[family.realm_id],
        since=window.since,
        until=window.until,
    )
    if version is None:
        subject = family_subject(family)
        markers = presenters.version_markers(family=family, runs=runs)
    else:
        subject = version_subject(family, version)
        markers = []
    stats = scope.stats(subject, window)
    kept = request.GET.copy()
    kept.pop("version", None)
    return TemplateResponse(
        request,
        "admin/observability/dashboard.html",
        page.context(
            request,
            title=f"Dashboard: {subject.name}",
            strategy_id=subject.strategy_id,
            strategy_name=subject.name,
            compare_ref=subject.ref,
            family=family,
            version=version,
            family_url=reverse("admin:observability_family_dashboard", args=[family.key]),
            kept_query=kept.urlencode(),
            versions=presenters.version_rows(family=family, runs=runs),
            **_window_context(scope, window, problem),
            panels=[
                presenters.dashboard_panel(
                    stats, strategy_id=subject.strategy_id, name=subject.name, markers=markers
                )
            ],
            list_url=_list_url(str(version.id)) if version else None,
        ),
    )


class CompareView(_AdminPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        scope = _OperatorScope(request)
        a, b = request.GET.get("a", "").strip(), request.GET.get("b", "").strip()
        window, problem = window_of_form(request.GET)
        panels = []
        delta = None
        rows: list[tuple[str, str, str, str]] = []
        sides: list[_Subject] = []
        if a and b:
            sides = [scope.subject(a), scope.subject(b)]
            # Both histograms bin the union of both ranges, so that their bars line up.
            ranges = [scope.points_range(side, window) for side in sides]
            shared = ranges[0].union(ranges[1]) if ranges[0] else ranges[1]
            stats_a, stats_b = (scope.stats(side, window, points_range=shared) for side in sides)
            panels = [
                presenters.dashboard_panel(
                    stats, strategy_id=side.strategy_id, name=side.name, label=label
                )
                for stats, side, label in ((stats_a, sides[0], "A"), (stats_b, sides[1], "B"))
            ]
            delta = selectors.execution_log_compare(a=stats_a, b=stats_b)
            rows = presenters.compare_rows(a=stats_a, b=stats_b, delta=delta)
        families = selectors.strategy_family_list(realm_ids=scope.listed_realm_ids)
        choices = presenters.strategy_choices(
            families=families,
            builtins=[strategy.id for strategy in builtin_list()],
            extra=[(side.ref, side.name) for side in sides],
        )
        return TemplateResponse(
            request,
            "admin/observability/compare.html",
            self.context(
                request,
                title="Compare strategies (A/B)",
                a=sides[0].ref if sides else a,
                b=sides[1].ref if sides else b,
                choices=choices,
                **_window_context(scope, window, problem),
                panels=panels,
                delta=delta,
                delta_rows=rows,
            ),
        )
