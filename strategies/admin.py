"""The designer's workshop: the strategy list, the block editor page and lifecycle actions.

The custom pages and the editor's JSON endpoints are in ``strategies.admin_views``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from strategies import selectors, services
from strategies.admin_views import StrategyAdminViews
from strategies.editor import editor_config
from strategies.forms import StrategyDefinitionForm
from strategies.models import StrategyDefinition, StrategyStatus

BLOCKLY_VERSION = "12.3.1"
#: The request attribute by which ``save_model`` tells ``response_change`` about a new version.
NEW_VERSION = "_strategy_new_version"


@admin.register(StrategyDefinition)
class StrategyDefinitionAdmin(StrategyAdminViews, admin.ModelAdmin):
    form = StrategyDefinitionForm
    change_form_template = "admin/strategies/strategydefinition/change_form.html"
    list_display = [
        "name",
        "version_label",
        "status_badge",
        "type",
        "parent_strategy_id",
        "published_at",
        "games_using",
        "tasks_using",
        "realm",
        "updated_at",
    ]
    list_display_links = ["name", "version_label"]
    list_filter = ["status", "type", "realm"]
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
        return ["realm", "name", *always, "created_at", "updated_at"]

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
                    ]
                },
            ),
            ("Program", {"fields": ["ast_json", "blockly_xml"], "classes": ["dsl-program"]}),
        ]

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
            current = selectors.strategy_find(pk=obj.pk)
            if current is None:  # the page's version is gone: versions are never deleted here
                raise Http404("No StrategyDefinition matches the given query.")
            outcome = services.strategy_edit(
                strategy=current, changes=fields, actor=request.user, allow_invalid=True
            )
            row = outcome.strategy
            if outcome.created:
                setattr(request, NEW_VERSION, row)
                self.message_user(
                    request,
                    f"v{current.version} is published and stays untouched: your changes were "
                    f"saved as the new draft v{row.version}.",
                    messages.INFO,
                )
        else:
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

    def response_add(self, request: HttpRequest, obj: StrategyDefinition, *args: Any):
        if obj.validation_errors and "_addanother" not in request.POST:
            # Back to the editor, where the problems are marked on their blocks.
            return HttpResponseRedirect(self._url("change", obj.pk))
        return super().response_add(request, obj, *args)

    def response_change(self, request: HttpRequest, obj: StrategyDefinition) -> HttpResponse:
        new = getattr(request, NEW_VERSION, None)
        if new is not None or obj.validation_errors:
            return HttpResponseRedirect(self._url("change", (new or obj).pk))
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
                can_simulate=self.has_simulate_permission(request),
                realm_id=obj.realm_id if obj else None,
                urls={
                    "simulate": reverse("admin:strategies_strategydefinition_simulate"),
                    "defaults": reverse("admin:strategies_strategydefinition_simulate_defaults"),
                    "validate": reverse("admin:strategies_strategydefinition_validate"),
                },
                media_url=f"/static/strategies/vendor/blockly-{BLOCKLY_VERSION}/media/",
            ),
            strategy=obj,
            usage_games=games,
            usage_tasks=tasks,
            can_publish=obj is not None
            and obj.status == StrategyStatus.DRAFT
            and self.has_publish_permission(request),
            can_archive=obj is not None
            and obj.status != StrategyStatus.ARCHIVED
            and self.has_archive_permission(request),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        return [*self.custom_urls(), *super().get_urls()]

    # -- actions ---------------------------------------------------------------------------
    @admin.action(description="Publish selected drafts", permissions=["publish"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[StrategyDefinition]):
        for attempt in services.strategy_publish_drafts(strategies=queryset):
            row, switch, error = attempt.strategy, attempt.switch, attempt.error
            if error is not None:
                self.message_user(request, f"{row}: {error.detail}", messages.ERROR)
            elif switch is not None:
                self.message_user(
                    request,
                    f"Published {row.name} v{row.version} ({switch.games} game(s), "
                    f"{switch.tasks} task(s) switched).",
                    messages.SUCCESS,
                )

    @admin.action(description="Archive selected versions", permissions=["archive"])
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[StrategyDefinition]):
        services.strategy_archive_many(strategies=queryset)
        self.message_user(request, "Archived the selected versions.", messages.SUCCESS)
