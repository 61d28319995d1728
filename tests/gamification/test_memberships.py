"""Realm memberships: a staff user's role per realm, managed by command and in the admin."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from gamification.models import Realm, RealmMembership
from tests.factories import RealmFactory

pytestmark = pytest.mark.django_db


def member_add(*args: str) -> str:
    out = io.StringIO()
    call_command("realm_member_add", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def member_remove(*args: str) -> str:
    out = io.StringIO()
    call_command("realm_member_remove", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def roles_of(username: str) -> dict[str, str]:
    return dict(
        RealmMembership.objects.filter(user__username=username).values_list("realm__slug", "role")
    )


def group_names(username: str) -> set[str]:
    user = get_user_model().objects.get(username=username)
    return set(user.groups.values_list("name", flat=True))


def test_realm_member_add_creates_the_staff_user_and_the_realm_with_a_password():
    output = member_add(
        "dana", "--realm", "studio-a", "--role", "designer", "--password", "s3cret!"
    )

    user = get_user_model().objects.get(username="dana")
    assert user.is_staff
    assert not user.is_superuser
    assert user.check_password("s3cret!")
    assert Realm.objects.filter(slug="studio-a").exists()
    assert roles_of("dana") == {"studio-a": "designer"}
    assert "Created realm" in output
    assert "Created staff user" in output


def test_realm_member_add_is_idempotent():
    member_add("dana", "--realm", "studio-a", "--role", "designer")
    output = member_add("dana", "--realm", "studio-a", "--role", "designer")

    assert RealmMembership.objects.count() == 1
    assert get_user_model().objects.filter(username="dana").count() == 1
    assert "already is designer" in output


def test_a_second_role_for_the_same_realm_replaces_the_first():
    member_add("dana", "--realm", "studio-a", "--role", "designer")
    output = member_add("dana", "--realm", "studio-a", "--role", "publisher")

    assert roles_of("dana") == {"studio-a": "publisher"}
    assert "was designer" in output


def test_a_person_holds_different_roles_in_different_realms():
    member_add("dana", "--realm", "studio-a", "--role", "designer")
    member_add("dana", "--realm", "studio-b", "--role", "operator")

    assert roles_of("dana") == {"studio-a": "designer", "studio-b": "operator"}
    assert group_names("dana") == {"designers", "operators"}


def test_an_existing_user_keeps_their_password_unless_one_is_given():
    user = get_user_model().objects.create_user(username="erin", password="old-pass")
    member_add("erin", "--realm", "studio-a", "--role", "operator")

    user.refresh_from_db()
    assert user.is_staff
    assert user.check_password("old-pass")


def test_a_new_user_without_a_password_cannot_log_in_until_given_one():
    member_add("fay", "--realm", "studio-a", "--role", "operator")

    assert not get_user_model().objects.get(username="fay").has_usable_password()


def test_role_groups_follow_the_memberships():
    member_add("dana", "--realm", "studio-a", "--role", "designer")
    assert group_names("dana") == {"designers"}

    member_add("dana", "--realm", "studio-a", "--role", "publisher")
    assert group_names("dana") == {"publishers"}

    member_remove("dana", "--realm", "studio-a")
    assert group_names("dana") == set()


def test_role_groups_sync_keeps_groups_that_are_not_roles():
    from django.contrib.auth.models import Group

    member_add("dana", "--realm", "studio-a", "--role", "designer")
    user = get_user_model().objects.get(username="dana")
    user.groups.add(Group.objects.create(name="support"))

    member_remove("dana", "--realm", "studio-a")

    assert group_names("dana") == {"support"}


def test_realm_member_remove_takes_only_that_realms_role_away():
    member_add("dana", "--realm", "studio-a", "--role", "designer")
    member_add("dana", "--realm", "studio-b", "--role", "operator")

    output = member_remove("dana", "--realm", "studio-a")

    assert roles_of("dana") == {"studio-b": "operator"}
    assert get_user_model().objects.filter(username="dana").exists()
    assert Realm.objects.filter(slug="studio-a").exists()
    assert "no longer has a role in studio-a" in output


def test_realm_member_remove_without_a_membership_changes_nothing():
    RealmFactory(slug="studio-a")

    output = member_remove("nobody", "--realm", "studio-a")

    assert "nothing changed" in output
    assert RealmMembership.objects.count() == 0


def test_realm_member_add_refuses_an_unknown_role_and_a_bad_slug():
    with pytest.raises(CommandError, match="role"):
        member_add("dana", "--realm", "studio-a", "--role", "owner")
    with pytest.raises(CommandError, match="slug"):
        member_add("dana", "--realm", "not a slug", "--role", "designer")
    assert not get_user_model().objects.filter(username="dana").exists()


def test_the_realm_admin_lists_and_edits_its_members(admin_client):
    member_add("dana", "--realm", "studio-a", "--role", "designer")
    realm = Realm.objects.get(slug="studio-a")

    page = admin_client.get(f"/admin/gamification/realm/{realm.pk}/change/")
    listing = admin_client.get("/admin/gamification/realmmembership/")

    assert page.status_code == 200
    assert b"dana" in page.content
    assert listing.status_code == 200
    assert b"dana" in listing.content
    assert b"Designer (create, edit, simulate)" in listing.content


@pytest.mark.parametrize("username", ["a\x00b", "x" * 151, "spaces are not allowed"])
def test_realm_member_add_refuses_a_username_the_user_model_refuses(username):
    with pytest.raises(CommandError, match="cannot be a username"):
        member_add(username, "--realm", "studio-a", "--role", "designer")
    assert not get_user_model().objects.exists()
    assert not Realm.objects.filter(slug="studio-a").exists()
