"""The admin's realm scoping, shared by every ``ModelAdmin`` of a realm's rows.

``RealmScopedAdmin`` narrows the changelist, the change page, list actions and foreign-key
choices to the realms where the user's role allows the capability, so another realm's object
is a 404 (``get_object`` goes through ``get_queryset``, and a missing object is a 404 rather
than the admin's redirect, so a missing row and a foreign one look the same) and never
appears in a list. Model permissions (the role groups) are checked first, as the
admin always does; the realm check narrows them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse

from gamification.access import (
    Capability,
    capability_anywhere,
    object_realm_id,
    realm_allowed,
    realm_q,
    realms_for,
)


class MissingIsNotFoundAdmin(admin.ModelAdmin):
    """A ``ModelAdmin`` whose pages answer 404 for an object that is not there for the user."""

    def _get_obj_does_not_exist_redirect(
        self,
        request: HttpRequest,  # noqa: ARG002 - admin hook
        opts: Any,
        object_id: str,  # noqa: ARG002 - admin hook
    ) -> HttpResponse:
        """A missing or foreign object is a 404, like every custom page of the admin."""
        raise Http404(f"No {opts.verbose_name} matches the given query.")


class ObjectPageAdmin(admin.ModelAdmin):
    """A ``ModelAdmin`` with a page of its own for each object, linked from its change page.

    The page ``<object_id>/<object_page>/`` is served by the method ``<object_page>_view``
    and named ``<app label>_<model name>_<object_page>``; what the change page adds for an
    object (the page's link, when the user may follow it) is ``object_page_context``.
    """

    object_page: str

    def object_page_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:  # noqa: ARG002 - a hook
        """Return what the change page of ``obj`` adds to its template's context."""
        return {}

    def object_page_url(self, obj: Model) -> str:
        """Return the address of ``obj``'s own page."""
        return reverse(f"admin:{self._object_page_name()}", args=[obj.pk])

    def _object_page_name(self) -> str:
        opts = self.model._meta
        return f"{opts.app_label}_{opts.model_name}_{self.object_page}"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        context = self.object_page_context(request, obj) if obj is not None else {}
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def get_urls(self) -> list[Any]:
        view = getattr(self, f"{self.object_page}_view")
        return [
            path(
                f"<path:object_id>/{self.object_page}/",
                self.admin_site.admin_view(view),
                name=self._object_page_name(),
            ),
            *super().get_urls(),
        ]


class RealmScopedAdmin(MissingIsNotFoundAdmin):
    #: The lookup from a row to its realm (``"game__realm"`` for a task).
    realm_lookup = "realm"
    #: Who may see the rows at all (the changelist, the change page read-only).
    view_capability: Capability = Capability.VIEW
    #: Who may add, change and delete them.
    change_capability: Capability = Capability.PUBLISH

    # -- what exists for this user ---------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .filter(
                realm_q(
                    user=request.user, capability=self.view_capability, lookup=self.realm_lookup
                )
            )
        )

    def realm_allows(self, request: HttpRequest, obj: Model | None, capability: Capability) -> bool:
        """Whether ``capability`` holds for ``obj``'s realm (for the list: in some realm)."""
        if obj is None:
            return capability_anywhere(user=request.user, capability=capability)
        return realm_allowed(
            user=request.user,
            capability=capability,
            realm_id=object_realm_id(obj, lookup=self.realm_lookup),
        )

    # -- permissions -----------------------------------------------------------------------
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_view_permission(request, obj):
            return False
        return self.realm_allows(request, obj, self.view_capability) or self.realm_allows(
            request, obj, self.change_capability
        )

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return super().has_add_permission(request, *args) and self.realm_allows(
            request, None, self.change_capability
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self.realm_allows(
            request, obj, self.change_capability
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self.realm_allows(
            request, obj, self.change_capability
        )

    # -- choices ---------------------------------------------------------------------------
    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """A realm picker offers only the user's realms; other rows only of those realms."""
        related = db_field.related_model
        if related is not None and related._meta.label == "gamification.Realm":
            kwargs["queryset"] = realms_for(user=request.user, capability=self.change_capability)
        elif related is not None and _realm_path(related) is not None:
            kwargs["queryset"] = related._default_manager.filter(
                realm_q(
                    user=request.user,
                    capability=self.change_capability,
                    lookup=_realm_path(related) or "realm",
                )
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def _realm_path(model: type[Model]) -> str | None:
    """The lookup from ``model`` to its realm, for the core's realm rows; else ``None``."""
    names = {field.name for field in model._meta.get_fields()}
    if "realm" in names:
        return "realm"
    if "game" in names:
        return "game__realm"
    return None


class ScopedRealmFilter(admin.SimpleListFilter):
    """The changelist's realm filter, offering only the realms the user may see."""

    title = "realm"
    parameter_name = "realm"

    def __init__(self, request: HttpRequest, params: Any, model: Any, model_admin: Any) -> None:
        self.realm_lookup = getattr(model_admin, "realm_lookup", "realm")
        super().__init__(request, params, model, model_admin)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        capability = getattr(model_admin, "view_capability", Capability.VIEW)
        return [
            (str(realm.pk), realm.slug)
            for realm in realms_for(user=request.user, capability=capability)[:200]
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:  # noqa: ARG002
        value = self.value()
        # isdigit() admits digits int() refuses (superscripts), as int() refuses 4 300 digits.
        if not value or not value.isdecimal() or len(value) > 19:
            return queryset
        return queryset.filter(**{f"{self.realm_lookup}_id": int(value)})
