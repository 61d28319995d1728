"""A game's leaderboards in the admin: linked from the game's page, for its realm's operators."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import (
    GameFactory,
    PlayerFactory,
    RealmFactory,
    TaskFactory,
    is_missing,
    member_client,
)
from tests.gamification.leaderboard_helpers import award, points_strategy

pytestmark = pytest.mark.django_db


@pytest.fixture
def game():
    realm = RealmFactory(slug="arcade")
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="pinball", strategy_id=strategy)
    for task_id in ("bumper", "flipper"):
        TaskFactory(game=game, external_task_id=task_id, strategy_id=strategy)
    return game


def _page_url(game) -> str:
    return reverse("admin:gamification_game_leaderboards", args=[game.pk])


def _rows(response) -> list[tuple[str, str, str]]:
    html = response.content.decode()
    return re.findall(
        r'<td class="rank">(\d+)</td><td>([^<]+)</td>\s*<td class="number">([^<]+)</td>', html
    )


def test_an_operator_follows_the_link_from_the_game_to_its_ranked_players(game):
    bumper, flipper = game.tasks.order_by("external_task_id")
    award(bumper, "ann", 30)
    award(flipper, "ben", 20)
    award(flipper, "cat", 20)
    client = member_client("op", game.realm, "operator")

    change = client.get(reverse("admin:gamification_game_change", args=[game.pk]))
    whole = client.get(_page_url(game))
    task = client.get(_page_url(game), {"task": "flipper", "period": "week"})

    assert f'href="{_page_url(game)}"' in change.content.decode()
    assert whole.status_code == 200
    assert _rows(whole) == [("1", "ann", "30"), ("2", "ben", "20"), ("2", "cat", "20")]
    assert _rows(task) == [("1", "ben", "20"), ("1", "cat", "20")]
    assert "Week from" in task.content.decode()


def test_the_page_goes_on_past_its_size_and_around_a_player(game):
    bumper = game.tasks.get(external_task_id="bumper")
    for n in range(55):
        award(bumper, f"p{n:02}", n)
    client = member_client("op", game.realm, "operator")

    first = client.get(_page_url(game))
    second = client.get(_page_url(game), {"offset": "50"})
    around = client.get(_page_url(game), {"around": "p30"})

    assert len(_rows(first)) == 50
    assert "offset=50" in first.content.decode()
    assert [row[1] for row in _rows(second)] == ["p04", "p03", "p02", "p01", "p00"]
    assert ("25", "p30", "30") in _rows(around)


def test_a_designer_sees_the_game_but_not_its_players(game):
    client = member_client("designer", game.realm, "designer")

    change = client.get(reverse("admin:gamification_game_change", args=[game.pk]))
    page = client.get(_page_url(game))

    assert change.status_code == 200
    assert _page_url(game) not in change.content.decode()
    assert page.status_code == 403


def test_another_realms_leaderboards_answer_like_a_missing_game(game):
    client = member_client("op-elsewhere", RealmFactory(slug="casino"), "operator")

    foreign = client.get(_page_url(game))
    missing = client.get(reverse("admin:gamification_game_leaderboards", args=[10**9]))

    assert is_missing(foreign)
    assert (foreign.status_code, foreign.content) == (missing.status_code, missing.content)


def test_a_bad_choice_shows_the_whole_game_with_the_error(game):
    award(game.tasks.get(external_task_id="bumper"), "ann", 3)
    client = member_client("op", game.realm, "operator")

    response = client.get(_page_url(game), {"task": "nope", "offset": "-4"})

    assert response.status_code == 200
    assert _rows(response) == [("1", "ann", "3")]
    assert "Select a valid choice" in response.content.decode()


def test_the_page_leads_back_to_its_game(game, admin_client):
    html = admin_client.get(_page_url(game)).content.decode()

    crumbs = re.search(r'<ol class="breadcrumbs">(.*?)</ol>', html, re.S).group(1)
    assert reverse("admin:gamification_game_change", args=[game.pk]) in crumbs
    assert crumbs.strip().endswith('<li aria-current="page">Leaderboards</li>')


def test_a_players_external_id_cannot_be_changed_in_the_admin(game):
    player = PlayerFactory(realm=game.realm, external_user_id="ann")
    client = member_client("op", game.realm, "operator")
    url = reverse("admin:gamification_player_change", args=[player.pk])

    client.post(url, {"external_user_id": "renamed", "realm": game.realm.pk})

    player.refresh_from_db()
    assert player.external_user_id == "ann"
    assert 'name="external_user_id"' not in client.get(url).content.decode()
