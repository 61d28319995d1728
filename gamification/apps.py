from django.apps import AppConfig


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
