"""Webhooks in the admin: a realm's endpoints and their deliveries, for the realm's operators.

Endpoints are created through the API, which shows the signing secret once; the admin never
shows it. Deliveries are a log: read-only, never counted in full, each with its attempts,
and an operator may send any of them again (``Redeliver``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString

from gamification.access import Capability, realm_q
from gamification.admin_realms import RealmScopedAdmin, ScopedRealmFilter
from gamification.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from gamification.webhooks import webhook_endpoint_delete, webhook_message_redeliver

#: The deliveries list never counts further than this.
COUNT_CAP = 10_000


class BoundedCountPaginator(Paginator):
    """Count at most ``COUNT_CAP`` rows: ``SELECT COUNT(*) FROM (... LIMIT n)``."""

    object_list: QuerySet[Any]

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[:COUNT_CAP].count()


def _deliveries_url(endpoint: WebhookEndpoint) -> str:
    url = reverse("admin:gamification_webhookmessage_changelist")
    return f"{url}?{EndpointFilter.parameter_name}={endpoint.pk}"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(RealmScopedAdmin):
    view_capability = Capability.OPERATE
    change_capability = Capability.OPERATE
    list_display = ["url", "realm", "subscribed", "created_at", "deliveries"]
    list_filter = [ScopedRealmFilter]
    list_select_related = ["realm"]
    search_fields = ["url"]
    fields = readonly_fields = ("realm", "url", "subscribed", "created_at", "deliveries")

    @admin.display(description="events")
    def subscribed(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events)

    @admin.display(description="deliveries")
    def deliveries(self, obj: WebhookEndpoint) -> SafeString:
        return format_html('<a href="{}">{}</a>', _deliveries_url(obj), "Deliveries")

    def has_add_permission(self, request: HttpRequest) -> bool:  # noqa: ARG002 - admin hook
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002 - admin hook
        return False

    def get_deleted_objects(
        self,
        objs: Any,
        request: HttpRequest,  # noqa: ARG002 - admin hook
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        """The endpoints and how many deliveries go with them.

        The admin would list (and so load) every delivery and ask for the permission to
        delete deliveries, which nobody has: they go only with their endpoint, deleted by
        the database.
        """
        endpoints = list(objs)
        deliveries = WebhookMessage.objects.filter(endpoint__in=endpoints).count()
        counts = {
            str(WebhookEndpoint._meta.verbose_name_plural): len(endpoints),
            str(WebhookMessage._meta.verbose_name_plural): deliveries,
        }
        return [str(endpoint) for endpoint in endpoints], counts, set(), []

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:  # noqa: ARG002 - admin hook
        webhook_endpoint_delete(endpoint=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.filter(realm_q(user=request.user, capability=Capability.OPERATE)):
            webhook_endpoint_delete(endpoint=endpoint)


class EndpointFilter(admin.SimpleListFilter):
    """The deliveries of one endpoint, among those of the realms the user operates."""

    title = "endpoint"
    parameter_name = "endpoint"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:  # noqa: ARG002
        endpoints = WebhookEndpoint.objects.filter(
            realm_q(user=request.user, capability=Capability.OPERATE)
        ).select_related("realm")
        return [(str(e.pk), f"{e.realm.slug}: {e.url}") for e in endpoints.order_by("url")[:200]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:  # noqa: ARG002
        value = self.value()
        if not value:
            return queryset
        try:
            return queryset.filter(endpoint_id=uuid.UUID(value))
        except ValueError:
            return queryset.none()


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = readonly_fields = (
        "attempted_at",
        "delivered",
        "status_code",
        "latency_ms",
        "error",
        "response_excerpt",
    )
    extra = 0
    can_delete = False
    ordering = ["-attempted_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002 - admin hook
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002 - admin hook
        return False


@admin.register(WebhookMessage)
class WebhookMessageAdmin(RealmScopedAdmin):
    """Every delivery: its status, attempts, the last answer and how long it took."""

    realm_lookup = "endpoint__realm"
    view_capability = Capability.OPERATE
    change_capability = Capability.OPERATE
    list_display = [
        "created_at",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "latency",
        "delivered_at",
        "next_attempt_at",
    ]
    list_filter = ["status", "event_type", EndpointFilter, ScopedRealmFilter]
    list_select_related = ["endpoint"]
    show_full_result_count = False
    paginator = BoundedCountPaginator
    actions = ["redeliver"]
    inlines = [WebhookAttemptInline]
    fields = readonly_fields = (
        "endpoint",
        "event_type",
        "webhook_id",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "expires_at",
        "delivered_at",
        "last_status_code",
        "latency",
        "last_error",
        "payload",
    )

    @admin.display(description="latency (ms)", ordering="last_latency_ms")
    def latency(self, obj: WebhookMessage) -> str:
        return "" if obj.last_latency_ms is None else f"{obj.last_latency_ms:.0f}"

    @admin.display(description="webhook-id")
    def webhook_id(self, obj: WebhookMessage) -> str:
        return obj.webhook_id

    @admin.display(description="body")
    def payload(self, obj: WebhookMessage) -> SafeString:
        try:
            text = json.dumps(json.loads(obj.body), indent=2, ensure_ascii=False)
        except ValueError:
            text = obj.body
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    def has_add_permission(self, request: HttpRequest) -> bool:  # noqa: ARG002 - admin hook
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002 - admin hook
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002 - admin hook
        return False

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("gamification.redeliver_webhookmessage") and (
            self.realm_allows(request, None, Capability.OPERATE)
        )

    @admin.action(description="Redeliver selected deliveries", permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookMessage]) -> None:
        count = 0
        for message in queryset.filter(
            realm_q(user=request.user, capability=Capability.OPERATE, lookup="endpoint__realm")
        ):
            webhook_message_redeliver(message=message)
            count += 1
        self.message_user(request, f"{count} deliveries will be sent again.", messages.SUCCESS)
