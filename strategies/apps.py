from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class StrategiesConfig(AppConfig):
    name = "strategies"

    def ready(self) -> None:
        from gamification.hooks import strategy_exists_register
        from gamification.models import RealmMembership
        from gamification.player_data.sections import player_data_section_register
        from scoring.hooks import custom_strategy_resolver_register
        from strategies.player_data import BacktestMentionsSection
        from strategies.roles import membership_changed, roles_sync_after_migrate
        from strategies.selectors import (
            PublishedVersionPrefetch,
            custom_strategy_exists,
            strategy_resolve_custom,
        )

        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="strategies-roles")
        post_save.connect(membership_changed, sender=RealmMembership, dispatch_uid="role-groups")
        post_delete.connect(
            membership_changed, sender=RealmMembership, dispatch_uid="role-groups-delete"
        )
        custom_strategy_resolver_register(
            strategy_resolve_custom, prefetch=PublishedVersionPrefetch()
        )
        strategy_exists_register(kind="custom", check=custom_strategy_exists)
        player_data_section_register(BacktestMentionsSection())
