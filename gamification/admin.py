from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from gamification.models import ApiKey, Award, Game, Player, Realm, RealmMembership, Task
from gamification.services import api_key_revoke


class RealmMembershipInline(admin.TabularInline):
    model = RealmMembership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Realm)
class RealmAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [RealmMembershipInline]


@admin.register(RealmMembership)
class RealmMembershipAdmin(admin.ModelAdmin):
    """Who holds which role in which realm (also ``manage.py realm_member_add``)."""

    list_display = ["user", "realm", "role", "updated_at"]
    list_filter = ["role", "realm"]
    list_select_related = ["user", "realm"]
    search_fields = ["user__username", "realm__slug"]
    autocomplete_fields = ["user", "realm"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created with ``manage.py create_api_key`` (the secret is shown only there)."""

    list_display = ["name", "prefix", "realm", "rate", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["realm", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["realm"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["realm", "prefix", "secret_hash", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:  # noqa: ARG002 - admin hook
        return False

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


class TaskInline(admin.TabularInline):
    model = Task
    fields = ["external_task_id", "strategy_id", "inherits_strategy", "status"]
    readonly_fields = ["inherits_strategy"]
    extra = 0
    show_change_link = True


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    list_display = ["external_game_id", "realm", "platform", "strategy_id", "created_at"]
    list_filter = ["realm", "platform"]
    list_select_related = ["realm"]
    search_fields = ["external_game_id"]
    readonly_fields = ["api_key_used", "created_at", "updated_at"]
    inlines = [TaskInline]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["external_task_id", "game", "strategy_id", "inherits_strategy", "status"]
    list_filter = ["status", "game__realm"]
    list_select_related = ["game"]
    search_fields = ["external_task_id", "game__external_game_id"]
    readonly_fields = ["api_key_used", "created_at", "updated_at"]


@admin.register(Player)
class PlayerAdmin(admin.ModelAdmin):
    list_display = ["external_user_id", "realm", "created_at"]
    list_filter = ["realm"]
    list_select_related = ["realm"]
    search_fields = ["external_user_id"]


@admin.register(Award)
class AwardAdmin(admin.ModelAdmin):
    """Awards are an append-only ledger: readable here, written only by the scoring API."""

    list_display = ["created_at", "player", "task", "points", "case_name", "strategy_id"]
    list_filter = ["realm", "strategy_id"]
    list_select_related = ["player", "task"]
    search_fields = ["player__external_user_id", "idempotency_key"]
    show_full_result_count = False
    date_hierarchy = None

    def has_add_permission(self, request: HttpRequest) -> bool:  # noqa: ARG002 - admin hook
        return False

    def has_change_permission(self, request: HttpRequest, obj: Award | None = None) -> bool:  # noqa: ARG002 - admin hook
        return False
