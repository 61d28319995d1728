from django.apps import AppConfig
from django.db.models.signals import post_migrate


class StrategiesConfig(AppConfig):
    name = "strategies"

    def ready(self) -> None:
        from scoring.hooks import custom_strategy_resolver_register
        from strategies.roles import roles_sync_after_migrate
        from strategies.selectors import strategy_resolve_custom

        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="strategies-roles")
        custom_strategy_resolver_register(strategy_resolve_custom)
