"""The designer's workshop: strategy list, block editor, simulation, versions, diff, lifecycle."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from gamification.errors import DomainError, InvalidString, JsonInvalid
from gamification.parsers import json_document_load, json_text_load
from scoring.builtins.registry import builtin_list
from scoring.strategy_types import StrategyKind
from strategies import selectors, services
from strategies.diff import strategy_diff
from strategies.errors import StrategyError, StrategyInvalid
from strategies.models import StrategyDefinition, StrategyStatus
from strategies.programs import AUTHORABLE_TYPES, program_check, strategy_shape_check
from strategies.simulation import simulation_defaults, strategy_simulate
from strategies.starters import starter_get, starter_list
from strategies.trace_tree import trace_tree

BLOCKLY_VERSION = "12.3.1"
PERMISSION = "strategies.%s_strategydefinition"


class StrictJSONFormField(forms.JSONField):
    """A form JSON field reading its text like the API does (finite numbers, bounded depth,
    no NUL or unpaired surrogate): a bad program is a form error, not a database error."""

    def to_python(self, value: Any) -> Any:
        if self.disabled or not isinstance(value, str) or value in self.empty_values:
            return super().to_python(value)
        try:
            converted = json_text_load(text=value)
        except DomainError as error:
            raise forms.ValidationError(error.detail, code="invalid") from None
        return forms.fields.JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            return json_text_load(text=data)
        except DomainError:
            return forms.fields.InvalidJSONInput(data)


class StrategyDefinitionForm(forms.ModelForm):
    starter = forms.ChoiceField(
        required=False,
        label="Start from",
        help_text="An empty program, a built-in's template, an example, or an extension.",
    )
    parent_strategy_id = forms.ChoiceField(required=False, label="Parent built-in")
    ast_json = StrictJSONFormField(
        required=False,
        label="Program (JSON)",
        widget=forms.Textarea(attrs={"rows": 18, "class": "vLargeTextField dsl-raw-json"}),
    )
    blockly_xml = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = StrategyDefinition
        fields = [
            "realm",
            "name",
            "description",
            "type",
            "parent_strategy_id",
            "experiment_tag",
            "ast_json",
            "blockly_xml",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["starter"].choices = [("", "---------")] + [
            (s.key, s.title) for s in starter_list()
        ]
        self.fields["parent_strategy_id"].choices = [("", "— none (DSL_FULL) —")] + [
            (b.id, b.id) for b in builtin_list()
        ]
        if "type" in self.fields:
            self.fields["type"].choices = [(t.value, t.label) for t in AUTHORABLE_TYPES]
        if not self.instance._state.adding:
            del self.fields["starter"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        starter = starter_get(data.get("starter") or "")
        if starter is not None and not data.get("ast_json"):
            data["ast_json"] = starter.ast_json
            data["type"] = starter.type
            data["parent_strategy_id"] = starter.parent_strategy_id
        realm, name = data.get("realm"), data.get("name")
        if (
            self.instance._state.adding
            and realm
            and name
            and StrategyDefinition.objects.filter(realm=realm, name=name).exists()
        ):
            self.add_error("name", "This realm already has a strategy with this name.")
        type_ = data.get("type", self.instance.type)
        try:
            data["parent_strategy_id"] = strategy_shape_check(
                type=type_, parent_strategy_id=data.get("parent_strategy_id") or None
            )
        except StrategyError as error:
            self.add_error(
                "parent_strategy_id" if "parent" in error.code.lower() else None, error.detail
            )
        return data

    def _post_clean(self) -> None:
        # The services build and check the rows (versions, statuses, node ids), not the form.
        pass


@admin.register(StrategyDefinition)
class StrategyDefinitionAdmin(admin.ModelAdmin):
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

    # -- permissions -----------------------------------------------------------------------
    def _has(self, request: HttpRequest, action: str) -> bool:
        return request.user.has_perm(PERMISSION % action)

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "publish")

    def has_archive_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "archive")

    def has_rollback_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "rollback")

    def has_simulate_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "simulate")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status == StrategyStatus.ARCHIVED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Versions are history: archive instead of deleting.
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        always = ["version", "status", "published_at", "created_by", "api_key_used"]
        if obj is None:
            return always
        return ["realm", "name", *always, "created_at", "updated_at"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None):
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
            current = StrategyDefinition.objects.get(pk=obj.pk)
            outcome = services.strategy_edit(
                strategy=current, changes=fields, actor=request.user, allow_invalid=True
            )
            row = outcome.strategy
            if outcome.created:
                request._strategy_new_version = row
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
        new = getattr(request, "_strategy_new_version", None)
        if new is not None or obj.validation_errors:
            return HttpResponseRedirect(self._url("change", (new or obj).pk))
        return super().response_change(request, obj)

    # -- change page context ---------------------------------------------------------------
    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        games, tasks = selectors.strategy_usage_counts(strategy=obj) if obj else (0, 0)
        context.update(
            blockly_version=BLOCKLY_VERSION,
            blockly_base=f"strategies/vendor/blockly-{BLOCKLY_VERSION}/",
            editor_config={
                "starters": [s.as_dict() for s in starter_list()],
                "builtins": [{"id": b.id, "variables": dict(b.variables)} for b in builtin_list()],
                "issues": obj.validation_errors if obj else [],
                "readOnly": bool(obj and obj.status == StrategyStatus.ARCHIVED)
                or not self.has_change_permission(request, obj),
                "simulateUrl": reverse("admin:strategies_strategydefinition_simulate"),
                "defaultsUrl": reverse("admin:strategies_strategydefinition_simulate_defaults"),
                "validateUrl": reverse("admin:strategies_strategydefinition_validate"),
                "canSimulate": self.has_simulate_permission(request),
                "realmId": obj.realm_id if obj else None,
                "mediaUrl": f"/static/strategies/vendor/blockly-{BLOCKLY_VERSION}/media/",
            },
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

    # -- custom pages ----------------------------------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        name = "strategies_strategydefinition"
        return [
            path("simulate/", wrap(self.simulate_view), name=f"{name}_simulate"),
            path(
                "simulate/defaults/",
                wrap(self.simulate_defaults_view),
                name=f"{name}_simulate_defaults",
            ),
            path("validate/", wrap(self.validate_view), name=f"{name}_validate"),
            path("<uuid:object_id>/versions/", wrap(self.versions_view), name=f"{name}_versions"),
            path("<uuid:object_id>/diff/", wrap(self.diff_view), name=f"{name}_diff"),
            path(
                "<uuid:object_id>/publish/",
                wrap(self.transition_view),
                {"action": "publish"},
                name=f"{name}_publish",
            ),
            path(
                "<uuid:object_id>/archive/",
                wrap(self.transition_view),
                {"action": "archive"},
                name=f"{name}_archive",
            ),
            path(
                "<uuid:object_id>/rollback/<int:version>/",
                wrap(self.transition_view),
                {"action": "rollback"},
                name=f"{name}_rollback",
            ),
            *super().get_urls(),
        ]

    def _url(self, view: str, *args: Any) -> str:
        return reverse(f"admin:strategies_strategydefinition_{view}", args=args)

    def _get(self, request: HttpRequest, object_id: Any) -> StrategyDefinition:
        obj = get_object_or_404(StrategyDefinition.objects.select_related("realm"), pk=object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def _page(self, request: HttpRequest, template: str, title: str, **context: Any):
        return TemplateResponse(
            request,
            f"admin/strategies/strategydefinition/{template}",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                **context,
            },
        )

    def versions_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        obj = self._get(request, object_id)
        versions = list(selectors.strategy_versions(strategy=obj))
        games, tasks = selectors.strategy_usage_counts(strategy=obj)
        return self._page(
            request,
            "versions.html",
            f"Versions of {obj.name}",
            strategy=obj,
            versions=versions,
            usage_games=games,
            usage_tasks=tasks,
            can_publish=self.has_publish_permission(request),
            can_archive=self.has_archive_permission(request),
            can_rollback=self.has_rollback_permission(request),
        )

    def diff_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        obj = self._get(request, object_id)
        versions = {v.version: v for v in selectors.strategy_versions(strategy=obj)}
        try:
            old = versions[int(request.GET.get("a", obj.version - 1 or 1))]
            new = versions[int(request.GET.get("b", obj.version))]
        except (KeyError, ValueError):
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
        if not self._has(request, action):
            raise PermissionDenied
        games, tasks = selectors.strategy_usage_counts(strategy=obj)
        target = obj.version if version is None else version
        consumers = (
            f"{games} game{'s' if games != 1 else ''} and {tasks} task{'s' if tasks != 1 else ''}"
        )
        if action == "archive":
            blast = (
                f"{consumers} will stop scoring: awards answer 409 STRATEGY_NOT_PUBLISHED until "
                "another version is published or rolled back to."
                if obj.status == StrategyStatus.PUBLISHED
                else "No game or task is affected: this version is not live."
            )
        else:
            blast = f"{consumers} will switch to v{target}."
        if request.method == "POST":
            try:
                if action == "publish":
                    switch = services.strategy_publish(strategy=obj, actor=request.user)
                    done = f"Published v{switch.strategy.version}: {_moved(switch)}."
                elif action == "archive":
                    row = services.strategy_archive(strategy=obj, actor=request.user)
                    done = f"Archived v{row.version}."
                else:
                    switch = services.strategy_rollback(
                        strategy=obj, version=target, actor=request.user
                    )
                    done = f"Rolled back to v{switch.strategy.version}: {_moved(switch)}."
            except StrategyInvalid as error:
                messages.error(
                    request,
                    "Cannot publish: the program has problems: "
                    + "; ".join(f"{e['pointer'] or '/'}: {e['message']}" for e in error.errors),
                )
                return HttpResponseRedirect(self._url("change", obj.pk))
            except DomainError as error:
                messages.error(request, error.detail)
                return HttpResponseRedirect(self._url("versions", obj.pk))
            messages.success(request, done)
            return HttpResponseRedirect(self._url("versions", obj.pk))
        return self._page(
            request,
            "confirm.html",
            f"{action.title()} {obj.name} v{target}?",
            strategy=obj,
            action=action,
            target=target,
            blast=blast,
        )

    # -- JSON endpoints of the editor ------------------------------------------------------
    def _json_body(self, request: HttpRequest) -> dict[str, Any]:
        """Read the body as the API reads one: PARSE_ERROR, INVALID_STRING (with pointer)."""
        body = json_document_load(raw=request.body or b"{}", encoding=request.encoding or "utf-8")
        if not isinstance(body, dict):
            raise JsonInvalid("The body must be a JSON object.")
        for name in _TEXT_FIELDS:
            if not isinstance(body.get(name), str | None):
                raise DomainError(f"{name} must be a string.", code="VALIDATION_ERROR", field=name)
        ast = body.get("astJson")
        if isinstance(body.get("astText"), str):
            try:
                ast = json_text_load(text=body["astText"]) if body["astText"].strip() else None
            except InvalidString as error:
                # The pointer is the program's own (astText is the program as text).
                raise InvalidString(error.detail, field="astText", **error.extra) from None
            except JsonInvalid as error:
                raise StrategyInvalid(
                    [
                        {
                            "code": "DSL_AST_NOT_JSON",
                            "message": error.detail,
                            "pointer": "",
                            "nodeId": None,
                        }
                    ]
                ) from None
        body["astJson"] = ast
        return body

    def _require(self, request: HttpRequest, action: str) -> None:
        if not self._has(request, action):
            raise PermissionDenied

    def simulate_view(self, request: HttpRequest) -> JsonResponse:
        self._require(request, "simulate")
        if request.method != "POST":
            return JsonResponse({"code": "METHOD_NOT_ALLOWED"}, status=405)
        try:
            body = self._json_body(request)
            realm = self._realm(body)
            result = strategy_simulate(
                realm=realm,
                type=body.get("type") or StrategyKind.DSL_FULL,
                parent_strategy_id=body.get("parentStrategyId") or None,
                ast_json=body["astJson"],
                external_user_id=body.get("externalUserId") or "simulated-user",
                data=_object(body.get("data")),
                mock_state=_object(body.get("mockState")),
                external_game_id=body.get("externalGameId") or None,
                external_task_id=body.get("externalTaskId") or None,
            )
        except DomainError as error:
            return JsonResponse(error.as_body(), status=error.http_status)
        check = program_check(
            type=body.get("type") or StrategyKind.DSL_FULL,
            parent_strategy_id=body.get("parentStrategyId") or None,
            ast_json=body["astJson"],
        )
        tree = trace_tree(ast=check.ast, trace=result["trace"])
        result["treeHtml"] = TemplateResponse(
            request, "admin/strategies/strategydefinition/_trace_tree.html", {"tree": tree}
        ).rendered_content
        return JsonResponse(result)

    def simulate_defaults_view(self, request: HttpRequest) -> JsonResponse:
        self._require(request, "simulate")
        try:
            body = self._json_body(request)
        except DomainError as error:
            return JsonResponse(error.as_body(), status=error.http_status)
        return JsonResponse(
            simulation_defaults(
                type=body.get("type") or StrategyKind.DSL_FULL,
                parent_strategy_id=body.get("parentStrategyId") or None,
                ast_json=body["astJson"],
            )
        )

    def validate_view(self, request: HttpRequest) -> JsonResponse:
        if not (self._has(request, "add") or self._has(request, "change")):
            raise PermissionDenied
        try:
            body = self._json_body(request)
            check = program_check(
                type=body.get("type") or StrategyKind.DSL_FULL,
                parent_strategy_id=body.get("parentStrategyId") or None,
                ast_json=body["astJson"],
            )
        except DomainError as error:
            return JsonResponse(error.as_body(), status=error.http_status)
        return JsonResponse({"ok": check.ok, "errors": check.errors})

    def _realm(self, body: dict[str, Any]):
        from gamification.models import Realm

        realm_id = _realm_id(body.get("realm"))
        realm = Realm.objects.filter(pk=realm_id).first() if realm_id else None
        if realm is None:
            realm = Realm.objects.order_by("pk").first()
        if realm is None:
            raise DomainError("Create a realm first.", code="REALM_REQUIRED")
        return realm

    # -- actions ---------------------------------------------------------------------------
    @admin.action(description="Publish selected drafts", permissions=["publish"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[StrategyDefinition]):
        for row in queryset.filter(status=StrategyStatus.DRAFT):
            try:
                switch = services.strategy_publish(strategy=row, actor=request.user)
            except StrategyError as error:
                self.message_user(request, f"{row}: {error.detail}", messages.ERROR)
                continue
            self.message_user(
                request,
                f"Published {row.name} v{row.version} ({switch.games} game(s), "
                f"{switch.tasks} task(s) switched).",
                messages.SUCCESS,
            )

    @admin.action(description="Archive selected versions", permissions=["archive"])
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[StrategyDefinition]):
        for row in queryset.exclude(status=StrategyStatus.ARCHIVED):
            services.strategy_archive(strategy=row, actor=request.user)
        self.message_user(request, "Archived the selected versions.", messages.SUCCESS)


def _moved(switch: services.Switch) -> str:
    return f"{switch.games} game(s) and {switch.tasks} task(s) switched"


#: Fields of the editor's JSON requests that are text when present.
_TEXT_FIELDS = ("type", "parentStrategyId", "externalUserId", "externalGameId", "externalTaskId")
#: The largest value of a BIGINT primary key.
_MAX_ID = 2**63 - 1


def _realm_id(value: Any) -> int | None:
    """Return the realm id of an editor request (a number, or the realm select's text)."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_ID:
        raise DomainError(
            "realm must be the id of a realm (an integer).",
            code="VALIDATION_ERROR",
            field="realm",
        )
    return value


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
