from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"

    def ready(self) -> None:
        from gamification.player_data.sections import player_data_section_register
        from observability import observer
        from observability.experiments import experiment_arm_runs
        from observability.player_data import DeadLettersSection, ExecutionLogsSection
        from scoring.hooks import run_observer_register
        from strategies.hooks import arm_runs_reader_register

        run_observer_register(observer)
        arm_runs_reader_register(experiment_arm_runs)
        player_data_section_register(ExecutionLogsSection())
        player_data_section_register(DeadLettersSection())
