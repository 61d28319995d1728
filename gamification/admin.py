"""The core domain in the admin, each realm's rows shown only to that realm's members.

Games and tasks are read by every role and changed by publishers; players and awards are
read by operators; API keys are created, renamed and revoked by operators, who also read the
webhooks and their deliveries (``admin_webhooks``). Realms are read by
their members and changed, like memberships, only by superusers.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from gamification import (
    admin_player_data,  # noqa: F401 - registers the audit's admin
    admin_webhooks,  # noqa: F401 - registers the webhook admins
)
from gamification.access import (
    Capability,
    capability_anywhere,
    realm_allowed,
    realm_ids_allowed,
    realm_q,
    user_sees_every_realm,
)
from gamification.achievements.admin import BadgeForm, levels_clean
from gamification.achievements.services import achievements_version_bump
from gamification.admin_realms import (
    MissingIsNotFoundAdmin,
    ObjectPageAdmin,
    RealmScopedAdmin,
    ScopedRealmFilter,
)
from gamification.admin_wallet import AwardReverseMixin
from gamification.errors import DomainError
from gamification.leaderboards.periods import LeaderboardPeriod
from gamification.leaderboards.selectors import leaderboard_read
from gamification.models import (
    ApiKey,
    Award,
    Badge,
    Game,
    Player,
    Realm,
    RealmMembership,
    Task,
)
from gamification.services import (
    api_key_create,
    api_key_revoke,
    api_key_update,
    game_update,
    strategy_id_check,
)

#: Where ``save_model`` leaves a new key's raw value for ``response_add``, and nowhere else.
_RAW_KEY = "_raw_key_shown_once"


class RealmMembershipInline(admin.TabularInline):
    model = RealmMembership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Realm)
class RealmAdmin(MissingIsNotFoundAdmin):
    """A member reads the realms they belong to; only superusers add or change realms."""

    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [RealmMembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Realm]:
        realms = super().get_queryset(request)
        allowed = realm_ids_allowed(user=request.user, capability=Capability.VIEW)
        return realms if allowed is None else realms.filter(pk__in=sorted(allowed))

    def get_inlines(self, request: HttpRequest, obj: Realm | None) -> list[Any]:  # noqa: ARG002
        return list(self.inlines) if user_sees_every_realm(user=request.user) else []

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or capability_anywhere(
            user=request.user, capability=Capability.VIEW
        )

    def has_view_permission(self, request: HttpRequest, obj: Realm | None = None) -> bool:
        if user_sees_every_realm(user=request.user):
            return super().has_view_permission(request, obj)
        if obj is None:
            return capability_anywhere(user=request.user, capability=Capability.VIEW)
        return realm_allowed(user=request.user, capability=Capability.VIEW, realm_id=obj.pk)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return user_sees_every_realm(user=request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Realm | None = None) -> bool:
        return user_sees_every_realm(user=request.user) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request: HttpRequest, obj: Realm | None = None) -> bool:
        return user_sees_every_realm(user=request.user) and super().has_delete_permission(
            request, obj
        )


@admin.register(RealmMembership)
class RealmMembershipAdmin(admin.ModelAdmin):
    """Who holds which role in which realm (also ``manage.py realm_member_add``): superusers."""

    list_display = ["user", "realm", "role", "updated_at"]
    list_filter = ["role", "realm"]
    list_select_related = ["user", "realm"]
    search_fields = ["user__username", "realm__slug"]
    autocomplete_fields = ["user", "realm"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return user_sees_every_realm(user=request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002
        return user_sees_every_realm(user=request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return user_sees_every_realm(user=request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002
        return user_sees_every_realm(user=request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002
        return user_sees_every_realm(user=request.user)


class ApiKeyCreateForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["realm", "name", "rate"]


@admin.register(ApiKey)
class ApiKeyAdmin(RealmScopedAdmin):
    """A key is created here or with ``manage.py create_api_key``; its secret is shown once."""

    view_capability = Capability.MANAGE_KEYS
    change_capability = Capability.MANAGE_KEYS
    list_display = ["name", "prefix", "realm", "rate", "created_at", "last_used_at", "state"]
    list_filter = [ScopedRealmFilter, ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["realm"]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]
    add_form = ApiKeyCreateForm
    change_fields = ["name", "rate", "realm", "prefix", "created_at", "last_used_at", "revoked_at"]
    change_readonly_fields = ["realm", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_form(
        self, request: HttpRequest, obj: ApiKey | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = self.add_form
            kwargs["fields"] = ApiKeyCreateForm.Meta.fields
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:  # noqa: ARG002
        return tuple(ApiKeyCreateForm.Meta.fields if obj is None else self.change_fields)

    def get_readonly_fields(
        self,
        request: HttpRequest,  # noqa: ARG002
        obj: ApiKey | None = None,
    ) -> tuple[str, ...]:
        return () if obj is None else tuple(self.change_readonly_fields)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:  # noqa: ARG002
        data = form.cleaned_data
        if change:
            api_key_update(api_key=obj, name=data["name"], rate=data["rate"])
            return
        created, raw_key = api_key_create(realm=data["realm"], name=data["name"], rate=data["rate"])
        # The admin goes on with ``obj`` (LogEntry, the page after): make it the stored key.
        obj.pk = created.pk
        obj.refresh_from_db()
        obj._state.adding = False
        setattr(obj, _RAW_KEY, raw_key)

    def response_add(
        self,
        request: HttpRequest,
        obj: ApiKey,
        post_url_continue: str | None = None,  # noqa: ARG002
    ) -> HttpResponse:
        """Show the new key's full value on this one page; it is kept nowhere."""
        return TemplateResponse(
            request,
            "admin/gamification/apikey/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"API key {obj.name} created",
                "api_key": obj,
                "raw_key": getattr(obj, _RAW_KEY),
                "change_url": reverse("admin:gamification_apikey_change", args=[obj.pk]),
                "list_url": reverse("admin:gamification_apikey_changelist"),
            },
        )

    @admin.display(description="state", ordering="revoked_at")
    def state(self, obj: ApiKey) -> SafeString:
        if obj.revoked_at is None:
            return format_html('<span class="apikey-state apikey-active">{}</span>', "active")
        return format_html('<span class="apikey-state apikey-revoked">{}</span>', "revoked")

    def revoke_keys(self, request: HttpRequest, api_keys: QuerySet[ApiKey]) -> int:
        """Revoke the active keys among ``api_keys`` the user manages, each in the log."""
        count = 0
        manageable = api_keys.filter(
            realm_q(user=request.user, capability=Capability.MANAGE_KEYS),
            revoked_at__isnull=True,
        )
        for api_key in manageable:
            api_key_revoke(api_key=api_key)
            self.log_change(request, api_key, [{"changed": {"fields": ["Revoked at"]}}])
            count += 1
        return count

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = self.revoke_keys(request, queryset)
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<path:object_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="gamification_apikey_revoke",
            ),
            *super().get_urls(),
        ]

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        api_key = self.get_object(request, unquote(object_id))
        if api_key is None:
            raise Http404("No API key matches the given query.")
        if not self.has_change_permission(request, api_key):
            raise PermissionDenied
        if self.revoke_keys(request, ApiKey.objects.filter(pk=api_key.pk)):
            self.message_user(request, f"Revoked {api_key}.", messages.SUCCESS)
        else:
            self.message_user(request, f"{api_key} was already revoked.", messages.INFO)
        return HttpResponseRedirect(reverse("admin:gamification_apikey_change", args=[api_key.pk]))


class StrategyBindingForm(forms.ModelForm):
    """A game's or task's form refuses a strategy its realm does not have, as the API does."""

    def binding_realm(self, data: dict[str, Any]) -> Realm | None:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        strategy_id, realm = data.get("strategy_id"), self.binding_realm(data)
        if strategy_id and realm is not None and "strategy_id" in self.changed_data:
            try:
                strategy_id_check(realm=realm, strategy_id=strategy_id)
            except DomainError as error:
                self.add_error("strategy_id", error.detail)
        return data


class GameForm(StrategyBindingForm):
    def clean_levels(self) -> list[dict[str, Any]]:
        return levels_clean(self.cleaned_data.get("levels"))

    def binding_realm(self, data: dict[str, Any]) -> Realm | None:
        if data.get("realm") is not None:
            return data["realm"]
        return self.instance.realm if self.instance.realm_id else None


class TaskForm(StrategyBindingForm):
    def binding_realm(self, data: dict[str, Any]) -> Realm | None:
        game = data.get("game") or (self.instance.game if self.instance.game_id else None)
        return game.realm if game is not None else None


class TaskInline(admin.TabularInline):
    """A game's tasks, changed by whoever may change the game (its realm's publishers)."""

    model = Task
    form = TaskForm
    fields = ["external_task_id", "strategy_id", "inherits_strategy", "status"]
    readonly_fields = ["inherits_strategy"]
    extra = 0
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Task]:
        return (
            super()
            .get_queryset(request)
            .filter(realm_q(user=request.user, capability=Capability.VIEW, lookup="game__realm"))
        )

    def _game_allows(self, request: HttpRequest, obj: Model | None, capability: Capability) -> bool:
        if obj is None:
            return capability_anywhere(user=request.user, capability=capability)
        return realm_allowed(
            user=request.user, capability=capability, realm_id=getattr(obj, "realm_id", None)
        )

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_view_permission(request, obj) and self._game_allows(
            request, obj, Capability.VIEW
        )

    def has_add_permission(self, request: HttpRequest, obj: Model | None) -> bool:  # type: ignore[override]
        return super().has_add_permission(request, obj) and self._game_allows(
            request, obj, Capability.PUBLISH
        )

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_change_permission(request, obj) and self._game_allows(
            request, obj, Capability.PUBLISH
        )

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_delete_permission(request, obj) and self._game_allows(
            request, obj, Capability.PUBLISH
        )


class LeaderboardForm(forms.Form):
    """Which board of a game the leaderboards page shows, and which part of it."""

    task = forms.ChoiceField(required=False, label="Board")
    period = forms.ChoiceField(choices=LeaderboardPeriod.choices, required=False)
    around = forms.CharField(max_length=255, required=False, label="Around player")
    offset = forms.IntegerField(min_value=0, max_value=10**9, required=False)

    def __init__(self, *args: Any, game: Game, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tasks = game.tasks.order_by("external_task_id").values_list("external_task_id", flat=True)
        field = self.fields["task"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "The whole game"), *((t, f"Task {t}") for t in tasks)]


@admin.register(Game)
class GameAdmin(ObjectPageAdmin, RealmScopedAdmin):
    object_page = "leaderboards"
    #: Entries per page of the leaderboards page.
    leaderboard_page_size = 50
    form = GameForm
    list_display = ["external_game_id", "realm", "platform", "strategy_id", "created_at"]
    list_filter = [ScopedRealmFilter, "platform"]
    list_select_related = ["realm"]
    search_fields = ["external_game_id"]
    readonly_fields = ["api_key_used", "created_at", "updated_at"]
    inlines = [TaskInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Game | None = None) -> list[str]:
        """A game stays in its realm: its tasks, players' awards and strategies are there."""
        fields = list(super().get_readonly_fields(request, obj))
        return fields if obj is None else ["realm", *fields]

    def save_model(self, request: HttpRequest, obj: Game, form: Any, change: bool) -> None:
        if change and "strategy_id" in form.changed_data:
            # Through the service, so the tasks that follow the game's strategy follow it.
            game_update(game=obj, changes={"strategy_id": obj.strategy_id})
            return
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if {"levels", "streak_period"} & set(form.changed_data):
            # Each process reloads the definitions at its next award of the game.
            achievements_version_bump(game_id=form.instance.pk)

    def has_leaderboards_permission(self, request: HttpRequest, obj: Game) -> bool:
        """Leaderboards name players and their points: operators of the game's realm."""
        return self.realm_allows(request, obj, Capability.OPERATE)

    def object_page_context(self, request: HttpRequest, obj: Game) -> dict[str, Any]:
        allowed = self.has_leaderboards_permission(request, obj)
        return {"leaderboards_url": self.object_page_url(obj) if allowed else None}

    def leaderboards_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A board of the game in its current period, a page at a time or around a player."""
        game = self.get_object(request, unquote(object_id))
        if game is None or not self.has_view_or_change_permission(request, game):
            raise Http404("No game matches the given query.")
        if not self.has_leaderboards_permission(request, game):
            raise PermissionDenied
        form = LeaderboardForm(request.GET or None, game=game)
        choice = form.cleaned_data if form.is_valid() else {}
        task_id, around = choice.get("task") or None, choice.get("around") or None
        offset = 0 if around else choice.get("offset") or 0
        limit = self.leaderboard_page_size
        board = leaderboard_read(
            game=game,
            task=game.tasks.get(external_task_id=task_id) if task_id else None,
            timezone=game.realm.timezone,
            period=LeaderboardPeriod(choice.get("period") or LeaderboardPeriod.ALL),
            limit=limit,
            offset=offset,
            around=around,
        )
        return TemplateResponse(
            request,
            "admin/gamification/game/leaderboards.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Leaderboards of {game}",
                "game": game,
                "form": form,
                "board": board,
                "query": urlencode(
                    {name: choice[name] for name in ("task", "period") if choice.get(name)}
                ),
                "previous_offset": max(0, offset - limit) if offset and not around else None,
                "next_offset": offset + limit
                if len(board.entries) == limit and not around
                else None,
                "timezone": game.realm.timezone,
            },
        )


@admin.register(Task)
class TaskAdmin(RealmScopedAdmin):
    form = TaskForm
    realm_lookup = "game__realm"
    list_display = ["external_task_id", "game", "strategy_id", "inherits_strategy", "status"]
    list_filter = ["status", ScopedRealmFilter]
    list_select_related = ["game"]
    search_fields = ["external_task_id", "game__external_game_id"]
    readonly_fields = ["api_key_used", "created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Task | None = None) -> list[str]:
        """A task stays in its game (and realm): its awards and strategy binding are there."""
        fields = list(super().get_readonly_fields(request, obj))
        return fields if obj is None else ["game", *fields]


@admin.register(Player)
class PlayerAdmin(RealmScopedAdmin):
    view_capability = Capability.OPERATE
    change_capability = Capability.OPERATE
    list_display = ["external_user_id", "realm", "created_at"]
    list_filter = [ScopedRealmFilter]
    list_select_related = ["realm"]
    search_fields = ["external_user_id"]

    def get_readonly_fields(self, request: HttpRequest, obj: Player | None = None) -> list[str]:
        """A player keeps the id game servers name it by: its leaderboard entries copy it."""
        fields = list(super().get_readonly_fields(request, obj))
        return fields if obj is None else ["realm", "external_user_id", *fields]


@admin.register(Award)
class AwardAdmin(AwardReverseMixin, RealmScopedAdmin):
    """Awards are an append-only ledger: readable here, written only by the scoring API, and
    reversed (never changed) by operators."""

    view_capability = Capability.OPERATE
    change_capability = Capability.OPERATE
    list_display = ["created_at", "player", "task", "points", "case_name", "strategy_id"]
    list_filter = [ScopedRealmFilter, "strategy_id"]
    list_select_related = ["player", "task"]
    search_fields = ["player__external_user_id", "idempotency_key"]
    show_full_result_count = False
    date_hierarchy = None

    def has_add_permission(self, request: HttpRequest) -> bool:  # noqa: ARG002 - admin hook
        return False

    def has_change_permission(self, request: HttpRequest, obj: Award | None = None) -> bool:  # noqa: ARG002 - admin hook
        return False


@admin.register(Badge)
class BadgeAdmin(RealmScopedAdmin):
    """A game's badges; a condition is validated with the strategies' validator, each issue
    shown with its JSON pointer."""

    form = BadgeForm
    realm_lookup = "game__realm"
    list_display = ["badge_id", "name", "game", "repeatable", "updated_at"]
    list_filter = ["repeatable", ScopedRealmFilter]
    list_select_related = ["game"]
    search_fields = ["badge_id", "name", "game__external_game_id"]
    readonly_fields = ["api_key_used", "created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Badge | None = None) -> list[str]:
        """A badge stays in its game: its grants are there."""
        fields = list(super().get_readonly_fields(request, obj))
        return fields if obj is None else ["game", *fields]

    def save_model(self, request: HttpRequest, obj: Badge, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        achievements_version_bump(game_id=obj.game_id)

    def delete_model(self, request: HttpRequest, obj: Badge) -> None:
        game_id = obj.game_id
        super().delete_model(request, obj)
        achievements_version_bump(game_id=game_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Badge]) -> None:
        game_ids = set(queryset.values_list("game_id", flat=True))
        super().delete_queryset(request, queryset)
        for game_id in game_ids:
            achievements_version_bump(game_id=game_id)
