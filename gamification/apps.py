from django.apps import AppConfig


class GamificationConfig(AppConfig):
    name = "gamification"
    verbose_name = "Gamification"

    def ready(self) -> None:
        from gamification import schema  # noqa: F401 - registers the OpenAPI auth extension
