from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"

    def ready(self) -> None:
        from observability import observer
        from observability.experiments import experiment_arm_runs
        from scoring.hooks import run_observer_register
        from strategies.hooks import arm_runs_reader_register

        run_observer_register(observer)
        arm_runs_reader_register(experiment_arm_runs)
