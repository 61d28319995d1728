"""Which realms a staff user may act in: the admin's tenancy, decided in one place.

A person's role in a realm (``RealmMembership``) grants capabilities there; the Django groups
the roles put them in carry the model permissions the admin checks first. Superusers act
everywhere. Every admin page and action asks :func:`realm_ids_allowed` or
:func:`realm_allowed` before it reads or changes a realm's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from django.db.models import Q, QuerySet

from gamification.models import Realm, RealmMembership, RealmRole


class Capability(StrEnum):
    """What a role lets a person do in a realm."""

    #: See the realm's strategies, games and tasks.
    VIEW = "view"
    #: Create, edit, duplicate, import and simulate strategies.
    DESIGN = "design"
    #: Publish, archive and roll back strategies; bind games and tasks to them.
    PUBLISH = "publish"
    #: Read execution logs, replays, dashboards, dead-lettered rows, players and awards; read,
    #: redeliver and delete webhooks.
    OPERATE = "operate"
    #: Create, rename and revoke the realm's API keys.
    MANAGE_KEYS = "manage_keys"


CAPABILITY_ROLES: Mapping[Capability, frozenset[str]] = {
    Capability.VIEW: frozenset(RealmRole.values),
    Capability.DESIGN: frozenset({RealmRole.DESIGNER, RealmRole.PUBLISHER}),
    Capability.PUBLISH: frozenset({RealmRole.PUBLISHER}),
    Capability.OPERATE: frozenset({RealmRole.OPERATOR}),
    Capability.MANAGE_KEYS: frozenset({RealmRole.OPERATOR}),
}

#: Where a request's user keeps its roles once read: one query per request, not per check.
_ROLES_CACHE = "_realm_roles_cache"


def user_realm_roles(*, user: Any) -> dict[int, str]:
    """Return ``{realm_id: role}`` of ``user``'s memberships (read once per user object)."""
    cached = getattr(user, _ROLES_CACHE, None)
    if cached is not None:
        return cached
    roles: dict[int, str] = {}
    if user is not None and user.is_authenticated and user.is_active:
        roles = dict(
            RealmMembership.objects.filter(user_id=user.pk).values_list("realm_id", "role")
        )
    setattr(user, _ROLES_CACHE, roles)
    return roles


def user_realm_roles_forget(*, user: Any) -> None:
    """Drop the cached roles of ``user`` (after its memberships changed)."""
    if hasattr(user, _ROLES_CACHE):
        delattr(user, _ROLES_CACHE)


def user_sees_every_realm(*, user: Any) -> bool:
    return bool(user is not None and user.is_active and user.is_superuser)


def realm_ids_allowed(*, user: Any, capability: Capability) -> frozenset[int] | None:
    """Return the realms where ``user`` has ``capability``; ``None`` means every realm."""
    if user_sees_every_realm(user=user):
        return None
    roles = CAPABILITY_ROLES[capability]
    return frozenset(
        realm_id for realm_id, role in user_realm_roles(user=user).items() if role in roles
    )


def realm_allowed(*, user: Any, capability: Capability, realm_id: int | None) -> bool:
    allowed = realm_ids_allowed(user=user, capability=capability)
    return allowed is None or realm_id in allowed


def capability_anywhere(*, user: Any, capability: Capability) -> bool:
    """Whether ``user`` has ``capability`` in at least one realm."""
    allowed = realm_ids_allowed(user=user, capability=capability)
    return allowed is None or bool(allowed)


def realm_q(*, user: Any, capability: Capability, lookup: str = "realm") -> Q:
    """A filter keeping the rows whose ``lookup`` realm allows ``capability`` to ``user``."""
    allowed = realm_ids_allowed(user=user, capability=capability)
    if allowed is None:
        return Q()
    return Q(**{f"{lookup}_id__in": sorted(allowed)})


def realms_for(*, user: Any, capability: Capability) -> QuerySet[Realm]:
    """The realms ``user`` may pick for ``capability`` (on a create form, in a filter)."""
    allowed = realm_ids_allowed(user=user, capability=capability)
    realms = Realm.objects.order_by("slug")
    return realms if allowed is None else realms.filter(pk__in=sorted(allowed))


def object_realm_id(obj: Any, *, lookup: str = "realm") -> int | None:
    """Follow ``lookup`` (``"realm"``, ``"game__realm"``) from ``obj`` to its realm's id."""
    *path, last = lookup.split("__")
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id", None)
