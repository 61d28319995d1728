"""The designer's workshop: the strategy list, the block editor page and lifecycle actions.

Scoped by realm: a person sees the strategies of the realms they have a role in, designs
(creates, edits, simulates) where they are designer or publisher, and publishes, archives
and rolls back where they are publisher. Every lifecycle step done here is written to the
admin's History of the versions it changed. The custom pages and the editor's JSON
endpoints are in ``strategies.admin_views``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from gamification.access import Capability, realm_allowed, realm_ids_allowed, realms_for
from gamification.admin_realms import RealmScopedAdmin, ScopedRealmFilter
from strategies import selectors, services
from strategies.admin_experiments import StrategyExperimentAdmin
from strategies.admin_views import StrategyAdminViews
from strategies.editor import editor_config
from strategies.forms import StrategyDefinitionForm
from strategies.hooks import change_page_links
from strategies.models import StrategyDefinition, StrategyStatus

BLOCKLY_VERSION = "12.3.1"
#: The request attribute by which ``save_model`` tells ``response_change`` about a new version:
#: the edited version's number and the new draft.
NEW_VERSION = "_strategy_new_version"


@admin.register(StrategyDefinition)
class StrategyDefinitionAdmin(StrategyAdminViews, RealmScopedAdmin):
    view_capability = Capability.VIEW
    change_capability = Capability.DESIGN
    form = StrategyDefinitionForm
    change_form_template = "admin/strategies/strategydefinition/change_form.html"
    list_display = [
        "name",
        "version_label",
        "status_badge",
        "kind",
        "published_at",
        "games_using",
        "tasks_using",
        "realm",
    ]
    list_display_links = ["name", "version_label"]
    list_filter = ["status", "type", ScopedRealmFilter]
    list_select_related = ["realm"]
    search_fields = ["name", "description", "experiment_tag"]
    ordering = ["realm", "name", "-version"]
    actions = ["publish_selected", "archive_selected"]

    # -- list ------------------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet[StrategyDefinition]:
        return selectors.strategy_list_with_usage(super().get_queryset(request))

    @admin.display(description="version", ordering="version")
    def version_label(self, obj: StrategyDefinition) -> str:
        return f"v{obj.version}"

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: StrategyDefinition) -> str:
        return format_html(
            '<span class="dsl-status dsl-status-{}">{}</span>', obj.status.lower(), obj.status
        )

    @admin.display(description="type", ordering="type")
    def kind(self, obj: StrategyDefinition) -> str:
        if obj.parent_strategy_id:
            return f"{obj.type} of {obj.parent_strategy_id}"
        return obj.type

    @admin.display(description="games")
    def games_using(self, obj: StrategyDefinition) -> int:
        return getattr(obj, "game_count", 0)

    @admin.display(description="tasks")
    def tasks_using(self, obj: StrategyDefinition) -> int:
        return getattr(obj, "task_count", 0)

    # -- permissions (the custom actions' are in StrategyAdminViews) ------------------------
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status == StrategyStatus.ARCHIVED:
            return False
        # A running experiment's candidate is frozen until the experiment ends.
        if (
            obj is not None
            and obj.status == StrategyStatus.DRAFT
            and selectors.experiment_candidate_running(strategy=obj)
        ):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(
        self,
        request: HttpRequest,  # noqa: ARG002 - admin hook
        obj: Any = None,  # noqa: ARG002 - admin hook
    ) -> bool:
        # Versions are history: archive instead of deleting.
        return False

    def get_readonly_fields(
        self,
        request: HttpRequest,  # noqa: ARG002 - admin hook
        obj: Any = None,
    ) -> list[str]:
        always = ["version", "status", "published_at", "created_by", "api_key_used"]
        if obj is None:
            return always
        return ["realm", "name", *always, *AUDIT_FIELDS, "created_at", "updated_at"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None):  # noqa: ARG002 - admin hook
        first = ["starter"] if obj is None else []
        return [
            (
                None,
                {
                    "fields": [
                        *first,
                        ("realm", "name"),
                        ("type", "parent_strategy_id"),
                        "description",
                        "experiment_tag",
                        ("version", "status", "published_at"),
                        ("created_by", "api_key_used"),
                        *([] if obj is None else AUDIT_ROWS),
                    ]
                },
            ),
            ("Program", {"fields": ["ast_json", "blockly_xml"], "classes": ["dsl-program"]}),
        ]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """Preselect the realm of a person who designs in exactly one."""
        initial: dict[str, Any] = dict(super().get_changeform_initial_data(request))
        realms = list(realms_for(user=request.user, capability=self.change_capability)[:2])
        if "realm" not in initial and len(realms) == 1:
            initial["realm"] = realms[0].pk
        return initial

    # -- saving through the services -------------------------------------------------------
    def save_model(self, request: HttpRequest, obj: StrategyDefinition, form, change: bool):
        data = form.cleaned_data
        fields = {
            "type": data.get("type", obj.type),
            "parent_strategy_id": data.get("parent_strategy_id"),
            "ast_json": data.get("ast_json"),
            "description": data.get("description") or "",
            "blockly_xml": data.get("blockly_xml") or "",
            "experiment_tag": data.get("experiment_tag") or None,
        }
        if change:
            current = selectors.strategy_find(
                pk=obj.pk,
                realm_ids=realm_ids_allowed(user=request.user, capability=self.change_capability),
            )
            if current is None:  # the page's version is gone: versions are never deleted here
                raise Http404("No StrategyDefinition matches the given query.")
            outcome = services.strategy_edit(
                strategy=current, changes=fields, actor=request.user, allow_invalid=True
            )
            row = outcome.strategy
            if outcome.created:
                setattr(request, NEW_VERSION, (current.version, row))
                self.message_user(
                    request,
                    f"v{current.version} is published and stays untouched: your changes were "
                    f"saved as the new draft v{row.version}.",
                    messages.INFO,
                )
        else:
            # The realm picker offers only the user's design realms; this holds it to that.
            if not realm_allowed(
                user=request.user, capability=self.change_capability, realm_id=data["realm"].pk
            ):
                raise PermissionDenied
            row = services.strategy_create(
                realm=data["realm"],
                name=data["name"],
                actor=request.user,
                allow_invalid=True,
                **fields,
            )
        for field in StrategyDefinition._meta.concrete_fields:
            setattr(obj, field.attname, getattr(row, field.attname))
        obj._state.adding = False
        if row.validation_errors:
            self.message_user(
                request,
                f"Saved as a draft with {len(row.validation_errors)} problem(s) in the program; "
                "it cannot be published until they are fixed (see the marked blocks).",
                messages.WARNING,
            )

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        pass

    def construct_change_message(self, request, form, formsets, add=False):
        """Say in the History which version a save wrote (an edit of a live one adds a draft)."""
        row = form.instance
        if add:
            return f"Created v{row.version} as a draft."
        new = getattr(request, NEW_VERSION, None)
        if new is not None:
            edited, draft = new
            return f"Saved as the new draft v{draft.version}; v{edited} stays published."
        return super().construct_change_message(request, form, formsets, add)

    def response_add(self, request: HttpRequest, obj: StrategyDefinition, *args: Any):
        if obj.validation_errors and "_addanother" not in request.POST:
            # Back to the editor, where the problems are marked on their blocks.
            return HttpResponseRedirect(self._url("change", obj.pk))
        return super().response_add(request, obj, *args)

    def response_change(self, request: HttpRequest, obj: StrategyDefinition) -> HttpResponse:
        new = getattr(request, NEW_VERSION, None)
        if new is not None or obj.validation_errors:
            return HttpResponseRedirect(self._url("change", (new[1] if new else obj).pk))
        return super().response_change(request, obj)

    # -- change page context ---------------------------------------------------------------
    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        games, tasks = selectors.strategy_usage_counts(strategy=obj) if obj else (0, 0)
        context.update(
            blockly_version=BLOCKLY_VERSION,
            blockly_base=f"strategies/vendor/blockly-{BLOCKLY_VERSION}/",
            editor_config=editor_config(
                issues=obj.validation_errors if obj else [],
                read_only=bool(obj and obj.status == StrategyStatus.ARCHIVED)
                or not self.has_change_permission(request, obj),
                can_simulate=self.has_simulate_permission(request, obj),
                realm_id=obj.realm_id if obj else None,
                urls={
                    "simulate": reverse("admin:strategies_strategydefinition_simulate"),
                    "defaults": reverse("admin:strategies_strategydefinition_simulate_defaults"),
                    "validate": reverse("admin:strategies_strategydefinition_validate"),
                },
                media_url=f"/static/strategies/vendor/blockly-{BLOCKLY_VERSION}/media/",
            ),
            strategy=obj,
            strategy_links=change_page_links(request=request, strategy=obj) if obj else [],
            usage_games=games,
            usage_tasks=tasks,
            can_publish=obj is not None
            and obj.status == StrategyStatus.DRAFT
            and self.has_publish_permission(request, obj),
            can_archive=obj is not None
            and obj.status != StrategyStatus.ARCHIVED
            and self.has_archive_permission(request, obj),
            can_backtest=obj is not None and self.has_backtest_permission(request, obj),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        return [*self.custom_urls(), *super().get_urls()]

    # -- actions ---------------------------------------------------------------------------
    def _publisher_rows(
        self, request: HttpRequest, queryset: QuerySet[StrategyDefinition], verb: str
    ) -> QuerySet[StrategyDefinition]:
        """Keep the selected rows of realms where the user publishes; refuse the others aloud."""
        allowed = realm_ids_allowed(user=request.user, capability=Capability.PUBLISH)
        if allowed is None:
            return queryset
        for row in queryset.exclude(realm_id__in=sorted(allowed)).select_related("realm"):
            self.message_user(
                request,
                f"{row}: not {verb}; you are not a publisher in realm {row.realm.slug}.",
                messages.ERROR,
            )
        return queryset.filter(realm_id__in=sorted(allowed))

    @admin.action(description="Publish selected drafts", permissions=["publish"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[StrategyDefinition]):
        rows = self._publisher_rows(request, queryset, "published")
        for attempt in services.strategy_publish_drafts(strategies=rows, actor=request.user):
            row, switch, error = attempt.strategy, attempt.switch, attempt.error
            if error is not None:
                self.message_user(request, f"{row}: {error.detail}", messages.ERROR)
            elif switch is not None:
                self.switch_log(request, "publish", switch)
                self.message_user(
                    request,
                    f"Published {row.name} v{row.version} ({switch.games} game(s), "
                    f"{switch.tasks} task(s) switched).",
                    messages.SUCCESS,
                )

    @admin.action(description="Archive selected versions", permissions=["archive"])
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[StrategyDefinition]):
        rows = self._publisher_rows(request, queryset, "archived")
        archived = services.strategy_archive_many(strategies=rows, actor=request.user)
        for row in archived:
            self.log_change(request, row, f"Archived v{row.version}.")
        if archived:
            self.message_user(request, f"Archived {len(archived)} version(s).", messages.SUCCESS)


__all__ = ["StrategyDefinitionAdmin", "StrategyExperimentAdmin"]

#: The lifecycle record of a version, read-only on its change page.
AUDIT_ROWS = [
    ("published_by", "published_by_key"),
    ("archived_at", "archived_by", "archived_by_key"),
]
AUDIT_FIELDS = [name for row in AUDIT_ROWS for name in row]
