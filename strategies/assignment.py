"""Which arm of an experiment a player is in: a stable hash, no state.

A player's point in [0, 1) comes from SHA-256 of the realm, the family and the player's
``externalUserId``, so the same player always lands on the same arm of a family's experiments,
players of different families are split independently, and a share raised from 10 % to 20 %
moves to the candidate only the players whose point lies between 0.1 and 0.2.
"""

from __future__ import annotations

import hashlib

from gamification.models import ExperimentArm

#: A float holds 53 bits of mantissa: with that many bits of the hash the point is exact and
#: never rounds up to 1.
_POINT_BITS = 53


def assignment_point(*, realm_id: int, family: str, external_user_id: str) -> float:
    """Return the player's point in [0, 1): the first 53 bits of a SHA-256 over its key."""
    # NUL separates the parts: no realm id, family name or user id holds one (the API refuses
    # NUL in every string), so two different keys never hash the same text.
    key = f"{realm_id}\x00{family}\x00{external_user_id}".encode()
    head = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
    return (head >> (64 - _POINT_BITS)) / (1 << _POINT_BITS)


def assignment_arm(*, point: float, share: float) -> ExperimentArm:
    """Return the arm of a player at ``point`` when the candidate takes ``share`` of them."""
    return ExperimentArm.CANDIDATE if point < share else ExperimentArm.CONTROL
