"""The admin site, whose "Recent actions" name only objects the user may still see."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest

from gamification.access import user_sees_every_realm


class RealmAdminSite(admin.AdminSite):
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
