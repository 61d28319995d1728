from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"

    def ready(self) -> None:
        from observability import observer
        from scoring.hooks import run_observer_register

        run_observer_register(observer)
