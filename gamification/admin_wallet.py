"""Wallets in the admin: a realm's wallets and ledger for its operators, who post adjustments
(with a reason) and reverse awards; both are recorded with the staff user and in History."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from gamification.access import Capability
from gamification.admin_realms import ObjectPageAdmin, RealmScopedAdmin, ScopedRealmFilter
from gamification.errors import DomainError
from gamification.hooks import award_reverser
from gamification.models import Award, AwardReversal, LedgerEntry, Wallet
from gamification.wallet.selectors import LATEST_ENTRIES, ledger_entries
from gamification.wallet.services import COINS_MAX, wallet_adjust


class _ReadOnly(RealmScopedAdmin):
    view_capability = Capability.OPERATE
    change_capability = Capability.OPERATE
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:  # noqa: ARG002 - admin hook
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002 - admin hook
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:  # noqa: ARG002 - admin hook
        return False


class AdjustmentForm(forms.Form):
    points = forms.DecimalField(
        max_digits=38, decimal_places=6, initial=0, help_text="Negative to take points out."
    )
    coins = forms.IntegerField(
        min_value=-COINS_MAX, max_value=COINS_MAX, initial=0, help_text="Negative to take out."
    )
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(Wallet)
class WalletAdmin(ObjectPageAdmin, _ReadOnly):
    object_page = "adjust"
    list_display = ["player", "realm", "points_balance", "coins_balance", "updated_at"]
    list_filter = [ScopedRealmFilter]
    list_select_related = ["player", "realm"]
    search_fields = ["player__external_user_id"]
    fields = readonly_fields = (
        "realm",
        "player",
        "points_balance",
        "coins_balance",
        "updated_at",
        "ledger",
    )

    @admin.display(description="ledger")
    def ledger(self, obj: Wallet) -> SafeString:
        url = reverse("admin:gamification_ledgerentry_changelist")
        return format_html(
            '<a href="{}?player__id__exact={}">The whole ledger</a>', url, obj.player_id
        )

    def has_adjust_permission(self, request: HttpRequest, obj: Wallet | None = None) -> bool:
        return request.user.has_perm("gamification.adjust_wallet") and self.realm_allows(
            request, obj, Capability.OPERATE
        )

    def object_page_context(self, request: HttpRequest, obj: Wallet) -> dict[str, Any]:
        context: dict[str, Any] = {
            "latest_entries": ledger_entries(player=obj.player)[:LATEST_ENTRIES]
        }
        if self.has_adjust_permission(request, obj):
            context["adjust_url"] = self.object_page_url(obj)
        return context

    def adjust_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Post an adjustment (points and coins, either signed) with its reason."""
        wallet = self.get_object(request, unquote(object_id))
        if wallet is None:
            raise Http404("No wallet matches the given query.")
        if not self.has_adjust_permission(request, wallet):
            raise PermissionDenied
        form = AdjustmentForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = wallet_adjust(
                    player=wallet.player,
                    points=form.cleaned_data["points"],
                    coins=form.cleaned_data["coins"],
                    reason=form.cleaned_data["reason"],
                    user=request.user,
                )
            except DomainError as error:
                form.add_error(None, error.detail)
            else:
                self.message_user(
                    request,
                    f"Adjusted {wallet}: {entry.points:+} points, {entry.coins:+} coins.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:gamification_wallet_change", args=[wallet.pk])
                )
        return TemplateResponse(
            request,
            "admin/gamification/wallet/adjust.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Adjust the {wallet}",
                "wallet": wallet,
                "form": form,
            },
        )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(_ReadOnly):
    """The append-only ledger: read here, written with the wallet's changes only."""

    list_display = ["created_at", "player", "kind", "points", "coins", "reason", "actor"]
    list_filter = [ScopedRealmFilter, "kind"]
    list_select_related = ["player", "actor_user", "actor_key"]
    search_fields = ["player__external_user_id", "idempotency_key"]
    readonly_fields = (
        "realm",
        "player",
        "kind",
        "points",
        "coins",
        "award_link",
        "reason",
        "actor",
        "idempotency_key",
        "created_at",
    )
    fields = readonly_fields

    @admin.display(description="by")
    def actor(self, obj: LedgerEntry) -> str:
        if obj.actor_user is not None:
            return obj.actor_user.get_username()
        return str(obj.actor_key) if obj.actor_key is not None else ""

    @admin.display(description="award")
    def award_link(self, obj: LedgerEntry) -> SafeString | str:
        if obj.award_id is None:
            return ""
        url = reverse("admin:gamification_award_change", args=[obj.award_id])
        return format_html('<a href="{}">{}</a>', url, obj.award_id)


@admin.register(AwardReversal)
class AwardReversalAdmin(_ReadOnly):
    list_display = ["created_at", "award", "player", "points", "reason", "actor"]
    list_filter = [ScopedRealmFilter]
    list_select_related = ["award", "player", "reversed_by", "reversed_by_key"]
    search_fields = ["player__external_user_id"]
    fields = readonly_fields = (
        "realm",
        "award",
        "player",
        "task",
        "points",
        "award_created_at",
        "reason",
        "actor",
        "created_at",
    )

    @admin.display(description="by")
    def actor(self, obj: AwardReversal) -> str:
        if obj.reversed_by is not None:
            return obj.reversed_by.get_username()
        return str(obj.reversed_by_key) if obj.reversed_by_key is not None else ""


class ReversalForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class AwardReverseMixin(ObjectPageAdmin, RealmScopedAdmin):
    """The Award admin's *Reverse* page: the reason asked, the reversal recorded as the user."""

    object_page = "reverse"

    def has_reverse_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        realm_allows = self.realm_allows
        return request.user.has_perm("gamification.reverse_award") and realm_allows(
            request, obj, Capability.OPERATE
        )

    def object_page_context(self, request: HttpRequest, obj: Award) -> dict[str, Any]:
        reversal = AwardReversal.objects.filter(award=obj).first()
        context: dict[str, Any] = {"reversal": reversal}
        if reversal is None and self.has_reverse_permission(request, obj):
            context["reverse_url"] = self.object_page_url(obj)
        return context

    def reverse_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Ask for the reason, then reverse the award as the signed-in user."""
        award = self.get_object(request, unquote(object_id))
        if not isinstance(award, Award):
            raise Http404("No award matches the given query.")
        reverser = award_reverser()
        if not self.has_reverse_permission(request, award) or reverser is None:
            raise PermissionDenied
        form = ReversalForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            try:
                reverser(
                    realm=award.realm, award_id=str(award.pk), reason=reason, user=request.user
                )
            except DomainError as error:
                form.add_error(None, error.detail)
            else:
                assert request.user.pk is not None, "the admin's views need a signed-in user"
                LogEntry.objects.log_actions(
                    user_id=request.user.pk,
                    queryset=[award],
                    action_flag=CHANGE,
                    change_message=f"Reversed. Reason: {reason}",
                    single_object=True,
                )
                self.message_user(request, f"Reversed the award {award.pk}.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:gamification_award_change", args=[award.pk])
                )
        return TemplateResponse(
            request,
            "admin/gamification/award/reverse.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Reverse the award {award.pk}",
                "award": award,
                "form": form,
            },
        )
