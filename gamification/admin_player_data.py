"""Player data requests in the admin: the audit trail of exports and erasures, read-only,
for the realm's operators."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from gamification.access import Capability
from gamification.admin_realms import RealmScopedAdmin, ScopedRealmFilter
from gamification.models import PlayerDataRequest


@admin.register(PlayerDataRequest)
class PlayerDataRequestAdmin(RealmScopedAdmin):
    """Who asked (an API key or a staff user), when, for which player (the tombstone once
    erased) and how many rows each section held; written by the API only."""

    view_capability = Capability.OPERATE
    change_capability = Capability.OPERATE
    list_display = ["created_at", "kind", "realm", "player", "requested_by_key", "requested_by"]
    list_filter = ["kind", ScopedRealmFilter]
    list_select_related = ["realm", "player", "requested_by_key", "requested_by"]
    show_full_result_count = False
    fields = readonly_fields = (
        "id",
        "realm",
        "kind",
        "player",
        "subject",
        "requested_by_key",
        "requested_by",
        "rows",
        "created_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:  # noqa: ARG002 - admin hook
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002 - admin hook
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002 - admin hook
        return False
