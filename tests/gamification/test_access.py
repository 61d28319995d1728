"""Which realms a staff user may act in, per capability: gamification.access on its own."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q

from gamification.access import (
    Capability,
    capability_anywhere,
    object_realm_id,
    realm_allowed,
    realm_ids_allowed,
    realm_q,
    realms_for,
    user_realm_roles,
    user_realm_roles_forget,
)
from gamification.models import Game, RealmMembership, Task
from gamification.services import realm_member_add
from tests.factories import GameFactory, RealmFactory, TaskFactory

pytestmark = pytest.mark.django_db

EXPECTED = {
    "designer": {Capability.VIEW, Capability.DESIGN},
    "publisher": {Capability.VIEW, Capability.DESIGN, Capability.PUBLISH},
    "operator": {Capability.VIEW, Capability.OPERATE, Capability.MANAGE_KEYS},
}


def member(username: str, realm_slug: str, role: str):
    return realm_member_add(username=username, realm_slug=realm_slug, role=role).membership.user


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_grants_its_capabilities_in_its_realm_only(role):
    other = RealmFactory(slug="other")
    user = member(f"{role}-user", "home", role)
    home = user.realm_memberships.get().realm
    for capability in Capability:
        granted = capability in EXPECTED[role]
        assert realm_allowed(user=user, capability=capability, realm_id=home.pk) is granted
        assert realm_allowed(user=user, capability=capability, realm_id=other.pk) is False
        assert realm_ids_allowed(user=user, capability=capability) == (
            frozenset({home.pk}) if granted else frozenset()
        )
        assert capability_anywhere(user=user, capability=capability) is granted


def test_roles_in_two_realms_are_kept_apart():
    user = member("dana", "north", "designer")
    member("dana", "south", "operator")
    north, south = (m.realm for m in RealmMembership.objects.order_by("realm__slug"))
    user_realm_roles_forget(user=user)
    assert realm_ids_allowed(user=user, capability=Capability.VIEW) == {north.pk, south.pk}
    assert realm_ids_allowed(user=user, capability=Capability.DESIGN) == {north.pk}
    assert realm_ids_allowed(user=user, capability=Capability.OPERATE) == {south.pk}
    assert list(realms_for(user=user, capability=Capability.OPERATE)) == [south]


def test_a_superuser_sees_every_realm(admin_user):
    RealmFactory(slug="one")
    RealmFactory(slug="two")
    for capability in Capability:
        assert realm_ids_allowed(user=admin_user, capability=capability) is None
        assert realm_allowed(user=admin_user, capability=capability, realm_id=10**9)
    assert realm_q(user=admin_user, capability=Capability.OPERATE) == Q()
    assert {r.slug for r in realms_for(user=admin_user, capability=Capability.VIEW)} == {
        "one",
        "two",
    }


def test_an_inactive_user_has_no_realm(admin_user):
    admin_user.is_active = False
    user = member("gone", "home", "publisher")
    user.is_active = False
    assert realm_ids_allowed(user=admin_user, capability=Capability.VIEW) == frozenset()
    assert realm_ids_allowed(user=user, capability=Capability.VIEW) == frozenset()


def test_an_anonymous_user_has_no_realm():
    RealmFactory(slug="home")
    anonymous = AnonymousUser()
    assert realm_ids_allowed(user=anonymous, capability=Capability.VIEW) == frozenset()
    assert list(realms_for(user=anonymous, capability=Capability.VIEW)) == []


def test_roles_are_read_once_per_user_object(django_assert_num_queries, django_user_model):
    user = member("cached", "home", "operator")
    fresh = django_user_model.objects.get(pk=user.pk)
    with django_assert_num_queries(1):
        for capability in Capability:
            realm_ids_allowed(user=fresh, capability=capability)
            capability_anywhere(user=fresh, capability=capability)
    # A role given since is seen by a new user object (the next request), or after forgetting.
    member("cached", "away", "designer")
    assert len(user_realm_roles(user=fresh)) == 1
    assert len(user_realm_roles(user=django_user_model.objects.get(pk=user.pk))) == 2
    user_realm_roles_forget(user=fresh)
    assert len(user_realm_roles(user=fresh)) == 2


def test_realm_q_filters_rows_by_their_realm_lookup():
    user = member("publisher", "home", "publisher")
    home = user.realm_memberships.get().realm
    mine = TaskFactory(game=GameFactory(realm=home))
    TaskFactory(game=GameFactory(realm=RealmFactory(slug="other")))
    games = Game.objects.filter(realm_q(user=user, capability=Capability.PUBLISH))
    assert list(games) == [mine.game]
    tasks = Task.objects.filter(
        realm_q(user=user, capability=Capability.PUBLISH, lookup="game__realm")
    )
    assert list(tasks) == [mine]
    assert not Task.objects.filter(
        realm_q(user=user, capability=Capability.OPERATE, lookup="game__realm")
    ).exists()


def test_object_realm_id_follows_the_lookup():
    task = TaskFactory()
    assert object_realm_id(task.game) == task.game.realm_id
    assert object_realm_id(task, lookup="game__realm") == task.game.realm_id
    assert object_realm_id(Task(), lookup="game__realm") is None
    assert object_realm_id(Game()) is None
