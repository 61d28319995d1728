from django.apps import AppConfig
from django.db.models.signals import post_migrate


class StrategiesConfig(AppConfig):
    name = "strategies"

    def ready(self) -> None:
        from strategies.roles import roles_sync_after_migrate

        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="strategies-roles")
