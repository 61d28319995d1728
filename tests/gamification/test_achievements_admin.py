"""The admin of achievements: badges with validated conditions and levels, realm-scoped."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.urls import reverse

from gamification.models import Badge
from tests.factories import GameFactory, RealmFactory, is_missing, member_client

pytestmark = pytest.mark.django_db

TRUE = json.dumps({"type": "literal", "value": True})


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:gamification_{model}_{view}", args=args)


@pytest.fixture
def games():
    return {
        slug: GameFactory(realm=RealmFactory(slug=slug), external_game_id=f"game-of-{slug}")
        for slug in ("realm-a", "realm-b")
    }


def _badge_form(game, condition: str, badge_id: str = "first") -> dict:
    return {
        "game": game.pk,
        "badge_id": badge_id,
        "name": "First",
        "description": "",
        "condition": condition,
    }


def test_a_badge_added_in_the_admin_is_validated_logged_and_seen_by_the_award(games):
    game = games["realm-b"]
    client = member_client("publisher-b", game.realm, "publisher")

    bad = json.dumps(
        {
            "type": "compare",
            "op": ">=",
            "left": {"type": "field", "path": "user.points"},
            "right": {"type": "literal", "value": 1},
        }
    )
    response = client.post(url("badge", "add"), _badge_form(game, bad))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["condition"]
    assert errors == [
        "DSL_FIELD_PATH_NOT_ALLOWED at /left: 'user.points' is not a readable field (use "
        "data.*, player.points, player.awards, player.level, player.streak or "
        "player.tasks.<externalTaskId>.awards)"
    ]
    assert not Badge.objects.exists()

    response = client.post(url("badge", "add"), _badge_form(game, TRUE))
    assert response.status_code == 302
    badge = Badge.objects.get(game=game)
    game.refresh_from_db()
    assert game.achievements_version == 1
    entry = LogEntry.objects.get(object_id=str(badge.pk), action_flag=ADDITION)
    assert entry.user.username == "publisher-b"


def test_another_realms_games_and_badges_are_out_of_reach(games):
    own, other = games["realm-b"], games["realm-a"]
    foreign = Badge.objects.create(
        game=other, badge_id="theirs", name="Theirs", condition={"type": "literal", "value": True}
    )
    client = member_client("publisher-b", own.realm, "publisher")

    assert is_missing(client.get(url("badge", "change", foreign.pk)))
    response = client.post(url("badge", "add"), _badge_form(other, TRUE, "mine"))
    assert response.status_code == 200
    assert "game" in response.context["adminform"].form.errors
    assert not Badge.objects.filter(badge_id="mine").exists()
    listed = client.get(url("badge", "changelist"))
    assert b"theirs" not in listed.content


def test_levels_are_edited_on_the_game_and_checked(games):
    game = games["realm-b"]
    client = member_client("publisher-b", game.realm, "publisher")
    form = {
        "realm": game.realm_id,
        "external_game_id": game.external_game_id,
        "platform": game.platform,
        "strategy_id": "default",
        "params": "{}",
        "streak_period": "day",
        "tasks-TOTAL_FORMS": "0",
        "tasks-INITIAL_FORMS": "0",
    }
    descending = [
        {"level": 1, "name": "A", "min_points": 10},
        {"level": 2, "name": "B", "min_points": 5},
    ]
    response = client.post(
        url("game", "change", game.pk), {**form, "levels": json.dumps(descending)}
    )
    assert response.status_code == 200
    assert "ascending" in response.context["adminform"].form.errors["levels"][0]

    levels = [
        {"level": 1, "name": "A", "min_points": 0},
        {"level": 2, "name": "B", "min_points": 5},
    ]
    response = client.post(url("game", "change", game.pk), {**form, "levels": json.dumps(levels)})
    assert response.status_code == 302
    game.refresh_from_db()
    assert (game.levels, game.streak_period, game.achievements_version) == (levels, "day", 1)
    assert LogEntry.objects.filter(object_id=str(game.pk), action_flag=CHANGE).exists()


def test_a_badge_past_the_games_limit_is_refused_in_the_admin_as_in_the_api(games):
    from gamification.achievements.definitions import BADGES_MAX

    game = games["realm-b"]
    client = member_client("publisher-b", game.realm, "publisher")
    Badge.objects.bulk_create(
        Badge(game=game, badge_id=f"b{n}", name=f"B{n}", condition=json.loads(TRUE))
        for n in range(BADGES_MAX)
    )
    response = client.post(url("badge", "add"), _badge_form(game, TRUE, badge_id="one-more"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert errors == [f"A game has at most {BADGES_MAX} badges."]
    assert not Badge.objects.filter(badge_id="one-more").exists()

    edited = Badge.objects.get(game=game, badge_id="b0")
    change = {**_badge_form(game, TRUE, badge_id="b0"), "name": "Renamed"}
    assert client.post(url("badge", "change", edited.pk), change).status_code == 302
    edited.refresh_from_db()
    assert edited.name == "Renamed"
