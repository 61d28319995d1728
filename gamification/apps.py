from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class GamificationConfig(AppConfig):
    name = "gamification"
    verbose_name = "Gamification"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured, ValidationError

        from gamification import schema  # noqa: F401 - registers the OpenAPI auth extension
        from gamification.rates import rate_parse

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
