"""The admin site, whose "Recent actions" name only objects the user may still see, and
whose index and sidebar list the apps' custom pages beside their models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.urls import reverse

from gamification.access import user_sees_every_realm


@dataclass(frozen=True, slots=True)
class AppPage:
    """A custom page listed in its model's app section, for whoever may view the model."""

    model: type[Model]
    #: What the index calls it ("Strategy dashboards").
    name: str
    #: Its URL's name in the admin's namespace.
    url_name: str


_pages: dict[str, AppPage] = {}


def app_page_register(page: AppPage) -> None:
    """List ``page`` on the admin index and in the sidebar (apps register in their admin.py)."""
    _pages[page.url_name] = page


class RealmAdminSite(admin.AdminSite):
    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[Any]:
        """The apps and their models, and beside them the pages the user may open."""
        apps = super().get_app_list(request, app_label)
        for app in apps:
            pages = [
                _page_entry(page, self.name)
                for page in _pages.values()
                if page.model._meta.app_label == app["app_label"]
                and page.model in self._registry
                and self._registry[page.model].has_view_permission(request)
            ]
            if pages:
                app["models"] = sorted([*app["models"], *pages], key=lambda entry: entry["name"])
        return apps

    def get_log_entries(self, request: HttpRequest) -> QuerySet[LogEntry]:
        """The log of objects each model's admin still shows the user.

        A person who left a realm keeps their log entries, but the index must not name that
        realm's objects to them; a deleted object's realm is unknown, so its entry is kept
        for superusers only.
        """
        entries = super().get_log_entries(request)
        if user_sees_every_realm(user=request.user):
            return entries
        visible = Q(pk__in=[])
        for model, model_admin in self._registry.items():
            pks = (
                model_admin.get_queryset(request)
                .order_by()
                .annotate(pk_text=Cast("pk", TextField()))
                .values("pk_text")
            )
            content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
            visible |= Q(content_type_id=content_type.pk, object_id__in=pks)
        return entries.filter(visible)


def _page_entry(page: AppPage, namespace: str) -> dict[str, Any]:
    """The entry of ``page`` among an app's models, as the app list template reads them."""
    return {
        "model": None,
        "name": page.name,
        "object_name": "".join(word.capitalize() for word in page.name.split()),
        "perms": {"add": False, "change": False, "delete": False, "view": True},
        "admin_url": reverse(f"{namespace}:{page.url_name}"),
        "add_url": None,
        "view_only": True,
    }
