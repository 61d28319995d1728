"""Players' arms: a stable hash of realm, family and player, cut at the candidate's share."""

from __future__ import annotations

import hashlib

import pytest

from strategies.assignment import assignment_arm, assignment_point

PLAYERS = [f"player-{n}" for n in range(10_000)]


def _points(*, realm_id: int = 1, family: str = "speed") -> list[float]:
    return [
        assignment_point(realm_id=realm_id, family=family, external_user_id=player)
        for player in PLAYERS
    ]


def test_a_players_point_is_the_first_53_bits_of_the_sha256_of_its_key():
    digest = hashlib.sha256(b"7\x00speed\x00alice").digest()
    expected = (int.from_bytes(digest[:8], "big") >> 11) / 2**53

    assert assignment_point(realm_id=7, family="speed", external_user_id="alice") == expected


def test_the_same_player_always_gets_the_same_point_and_arm():
    first, again = _points(), _points()

    assert first == again
    assert all(0 <= point < 1 for point in first)
    arms = [assignment_arm(point=point, share=0.3) for point in first]
    assert arms == [assignment_arm(point=point, share=0.3) for point in again]


def test_families_and_realms_split_their_players_independently():
    speed, sprint, elsewhere = _points(), _points(family="sprint"), _points(realm_id=2)
    in_speed = {player for player, point in zip(PLAYERS, speed, strict=True) if point < 0.5}
    in_sprint = {player for player, point in zip(PLAYERS, sprint, strict=True) if point < 0.5}
    in_other = {player for player, point in zip(PLAYERS, elsewhere, strict=True) if point < 0.5}

    # Independent halves overlap on about a quarter of the players.
    assert abs(len(in_speed & in_sprint) / len(PLAYERS) - 0.25) < 0.02
    assert abs(len(in_speed & in_other) / len(PLAYERS) - 0.25) < 0.02


@pytest.mark.parametrize("share", [0.01, 0.1, 0.25, 0.5, 0.9])
def test_the_candidate_gets_its_share_of_10000_players_within_2_points(share):
    candidates = sum(assignment_arm(point=point, share=share) == "candidate" for point in _points())

    assert abs(candidates / len(PLAYERS) - share) <= 0.02


def test_raising_the_share_moves_only_the_players_between_the_two_thresholds():
    points = dict(zip(PLAYERS, _points(), strict=True))
    before = {player: assignment_arm(point=point, share=0.2) for player, point in points.items()}
    after = {player: assignment_arm(point=point, share=0.3) for player, point in points.items()}

    moved = {player for player in PLAYERS if before[player] != after[player]}

    assert moved == {player for player, point in points.items() if 0.2 <= point < 0.3}
    assert all((before[p], after[p]) == ("control", "candidate") for p in moved)
    # About a tenth of the players: the fewest a 10-point raise can move.
    assert abs(len(moved) / len(PLAYERS) - 0.1) <= 0.02


def test_lowering_the_share_moves_players_back_to_the_control_only():
    points = _points()
    before = [assignment_arm(point=point, share=0.5) for point in points]
    after = [assignment_arm(point=point, share=0.4) for point in points]

    changes = {(b, a) for b, a in zip(before, after, strict=True) if b != a}

    assert changes == {("candidate", "control")}
    assert sum(b != a for b, a in zip(before, after, strict=True)) == sum(
        0.4 <= point < 0.5 for point in points
    )
