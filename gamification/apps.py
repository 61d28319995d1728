from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class GamificationConfig(AppConfig):
    name = "gamification"
    verbose_name = "Gamification"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured, ValidationError
        from django.db.models.signals import pre_delete

        from gamification import schema  # noqa: F401 - registers the OpenAPI auth extension
        from gamification.leaderboards.services import task_pre_delete
        from gamification.models import Task
        from gamification.player_data.core import CORE_SECTIONS
        from gamification.player_data.holdings import HOLDINGS_SECTIONS
        from gamification.player_data.sections import player_data_section_register
        from gamification.rates import rate_parse
        from gamification.sql import psycopg_statement_cache_widen

        # However a task is deleted (the API, the admin, a cascade from elsewhere), its
        # awards leave its game's leaderboards with it.
        pre_delete.connect(task_pre_delete, sender=Task, dispatch_uid="leaderboard_task_forget")

        psycopg_statement_cache_widen()

        for section in (*CORE_SECTIONS, *HOLDINGS_SECTIONS):
            player_data_section_register(section)

        if settings.API_KEY_DEFAULT_RATE:
            try:
                rate_parse(settings.API_KEY_DEFAULT_RATE)
            except ValidationError as error:
                raise ImproperlyConfigured(f"API_KEY_DEFAULT_RATE: {error.messages[0]}") from None


class RealmAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` whose ``admin.site`` scopes "Recent actions" by realm."""

    # Named in INSTALLED_APPS; GamificationConfig stays this module's default.
    default = False
    default_site = "gamification.admin_site.RealmAdminSite"
