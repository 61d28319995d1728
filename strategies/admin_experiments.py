"""Experiments in the admin: who tests what against the published version, stop and promote.

Read-only rows (they are started through the API): everyone with a role in the realm sees
them; publishers stop them and promote their candidate, as they publish and archive, and each
step goes to the History of the experiment and of the versions it changed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from gamification.access import Capability, realm_ids_allowed
from gamification.admin_realms import RealmScopedAdmin, ScopedRealmFilter
from gamification.errors import DomainError
from strategies import services
from strategies.models import ExperimentStatus, StrategyExperiment
from strategies.selectors import EXPERIMENT_ACTORS

PUBLISH = "strategies.publish_strategydefinition"


def _moved(games: int, tasks: int) -> str:
    return f"{games} game{'s' if games != 1 else ''}, {tasks} task{'s' if tasks != 1 else ''}"


@admin.register(StrategyExperiment)
class StrategyExperimentAdmin(RealmScopedAdmin):
    view_capability = Capability.VIEW
    change_capability = Capability.PUBLISH
    list_display = [
        "tag",
        "name",
        "control_label",
        "candidate_label",
        "share_label",
        "status",
        "started_at",
        "stopped_at",
        "realm",
    ]
    list_filter = ["status", ScopedRealmFilter]
    list_select_related = ["realm", "control", "candidate", *EXPERIMENT_ACTORS]
    search_fields = ["name", "tag"]
    ordering = ["-started_at"]
    actions = ["stop_selected", "promote_selected"]
    fields = [
        ("realm", "name", "tag"),
        ("control", "candidate", "share"),
        "status",
        ("started_at", "started_by", "started_by_key"),
        ("stopped_at", "stopped_by", "stopped_by_key"),
    ]
    readonly_fields = [
        "realm",
        "name",
        "tag",
        "control",
        "candidate",
        "share",
        "status",
        "started_at",
        "started_by",
        "started_by_key",
        "stopped_at",
        "stopped_by",
        "stopped_by_key",
    ]

    @admin.display(description="control", ordering="control__version")
    def control_label(self, obj: StrategyExperiment) -> str:
        return f"v{obj.control.version}"

    @admin.display(description="candidate", ordering="candidate__version")
    def candidate_label(self, obj: StrategyExperiment) -> str:
        return f"v{obj.candidate.version}"

    @admin.display(description="share", ordering="share")
    def share_label(self, obj: StrategyExperiment) -> str:
        return f"{obj.share * 100:.4g} %"

    # -- permissions: rows change only through the actions ----------------------------------
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:  # noqa: ARG002
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002
        return False

    def has_publish_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Stopping and promoting are a publisher's, in the experiment's realm."""
        return request.user.has_perm(PUBLISH) and self.realm_allows(
            request, obj, Capability.PUBLISH
        )

    # -- actions ---------------------------------------------------------------------------
    def _running_rows(
        self, request: HttpRequest, queryset: QuerySet[StrategyExperiment], verb: str
    ) -> list[StrategyExperiment]:
        """Keep the running experiments of realms where the user publishes; say why not others."""
        allowed = realm_ids_allowed(user=request.user, capability=Capability.PUBLISH)
        kept = []
        for experiment in queryset:
            if allowed is not None and experiment.realm_id not in allowed:
                self.message_user(
                    request,
                    f"{experiment}: not {verb}; you are not a publisher in realm "
                    f"{experiment.realm.slug}.",
                    messages.ERROR,
                )
            elif experiment.status != ExperimentStatus.RUNNING:
                self.message_user(
                    request, f"{experiment}: not {verb}; it is not running.", messages.WARNING
                )
            else:
                kept.append(experiment)
        return kept

    @admin.action(description="Stop selected experiments", permissions=["publish"])
    def stop_selected(self, request: HttpRequest, queryset: QuerySet[StrategyExperiment]):
        for experiment in self._running_rows(request, queryset, "stopped"):
            try:
                stopped = services.experiment_stop(experiment=experiment, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{experiment}: {error.detail}", messages.ERROR)
                continue
            message = f"Stopped; everyone scores with v{stopped.control.version} again."
            self.log_change(request, stopped, message)
            self.message_user(request, f"{stopped.tag}: {message}", messages.SUCCESS)

    @admin.action(
        description="Promote the candidate of selected experiments", permissions=["publish"]
    )
    def promote_selected(self, request: HttpRequest, queryset: QuerySet[StrategyExperiment]):
        for experiment in self._running_rows(request, queryset, "promoted"):
            try:
                promotion = services.experiment_promote(experiment=experiment, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{experiment}: {error.detail}", messages.ERROR)
                continue
            switch = promotion.switch
            live = switch.strategy
            moved = _moved(switch.games, switch.tasks)
            self.log_change(
                request, promotion.experiment, f"Promoted v{live.version} ({moved} switched)."
            )
            self.log_change(
                request,
                live,
                f"Published v{live.version}, promoted from experiment {experiment.tag!r} "
                f"({moved} switched).",
            )
            if switch.previous is not None:
                self.log_change(
                    request,
                    switch.previous,
                    f"Archived: v{live.version} went live in its place.",
                )
            self.message_user(
                request,
                f"{experiment.tag}: published v{live.version} ({moved} switched).",
                messages.SUCCESS,
            )
