"""The authoring roles, as Django groups: who may design, publish and observe strategies."""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps

DESIGNERS = "designers"
PUBLISHERS = "publishers"
OPERATORS = "operators"

_DESIGN = [
    "strategies.view_strategydefinition",
    "strategies.view_strategyexperiment",
    "strategies.add_strategydefinition",
    "strategies.change_strategydefinition",
    "strategies.simulate_strategydefinition",
    "strategies.backtest_strategydefinition",
    "gamification.view_game",
    "gamification.view_task",
    "gamification.view_badge",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    DESIGNERS: _DESIGN,
    PUBLISHERS: [
        *_DESIGN,
        "strategies.publish_strategydefinition",
        "strategies.archive_strategydefinition",
        "strategies.rollback_strategydefinition",
        "gamification.add_game",
        "gamification.change_game",
        "gamification.add_task",
        "gamification.change_task",
        "gamification.add_badge",
        "gamification.change_badge",
        "gamification.delete_badge",
    ],
    OPERATORS: [
        "strategies.view_strategydefinition",
        "strategies.view_strategyexperiment",
        "strategies.view_dashboard",
        "gamification.view_game",
        "gamification.view_task",
        "gamification.view_badge",
        "gamification.view_player",
        "gamification.view_award",
        "gamification.view_apikey",
        "gamification.add_apikey",
        "gamification.change_apikey",
        "gamification.view_webhookendpoint",
        "gamification.delete_webhookendpoint",
        "gamification.view_webhookmessage",
        "gamification.view_webhookattempt",
        "gamification.redeliver_webhookmessage",
        "gamification.view_wallet",
        "gamification.view_ledgerentry",
        "gamification.view_awardreversal",
        "gamification.adjust_wallet",
        "gamification.reverse_award",
        "gamification.view_playerdatarequest",
        # Defined by the observability app; granted once that model exists.
        "observability.view_strategyexecutionlog",
        "observability.view_executionlogdeadletter",
    ],
}


def roles_sync(*, apps: Any = global_apps) -> None:
    """Create the groups and grant them every listed permission that exists (idempotent)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in wanted:
            app_label, codename = dotted.split(".", 1)
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is not None:
                group.permissions.add(permission)


def roles_sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    """post_migrate hook: permissions of later apps (observability) reach their groups."""
    if sender.label in ("strategies", "observability"):
        roles_sync(apps=kwargs.get("apps") or global_apps)


#: The group that carries each realm role's model permissions.
ROLE_GROUPS: dict[str, str] = {
    "designer": DESIGNERS,
    "publisher": PUBLISHERS,
    "operator": OPERATORS,
}


def user_role_groups_sync(*, user: Any) -> None:
    """Put ``user`` in exactly the groups of the roles they hold in some realm.

    The groups carry the model permissions the admin checks; which realm's rows a member
    may touch is the membership's business. Groups that are not role groups are kept.
    """
    Group = global_apps.get_model("auth", "Group")
    wanted = {ROLE_GROUPS[role] for role in user.realm_memberships.values_list("role", flat=True)}
    role_groups = Group.objects.filter(name__in=ROLE_GROUPS.values())
    user.groups.remove(*[group for group in role_groups if group.name not in wanted])
    user.groups.add(*[group for group in role_groups if group.name in wanted])


def membership_changed(sender: Any, instance: Any, **kwargs: Any) -> None:  # noqa: ARG001
    """post_save/post_delete receiver of ``RealmMembership``."""
    user_role_groups_sync(user=instance.user)
