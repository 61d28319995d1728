"""The sections of a player's data: what each app stores about a player, to export or erase.

A section is a name (its key in the export, snake_case) and two functions: ``export`` yields
the section's items, a bounded number of rows per query, and ``erase`` scrubs them inside the
erasure's transaction. The core registers its sections here; the apps above register theirs
from their ``AppConfig.ready()`` (the core cannot import them). Sections run in registration
order, the core's first.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.db.models import Q, QuerySet

if TYPE_CHECKING:
    from gamification.models import Player, Realm

#: Rows one query of an export reads; the export's memory does not grow with the player.
EXPORT_CHUNK_ROWS = 1000
#: What replaces an erased external id, followed by a random UUID.
TOMBSTONE_PREFIX = "erased:"


@dataclass(frozen=True, slots=True)
class Erasure:
    """One erasure in progress: the player being erased and the row that takes its place.

    ``external_user_id`` is the erased id; it exists only while the erasure runs, so that
    sections can find the rows that copy it.
    """

    realm: Realm
    player: Player
    tombstone: Player
    external_user_id: str


class PlayerDataSection(Protocol):
    #: The section's key in the export (snake_case; the API writes it in camelCase).
    name: str

    def export(self, *, realm: Realm, player: Player) -> Iterator[dict[str, Any]]:
        """Yield the section's items about ``player`` (snake_case keys, JSON values)."""
        ...

    def erase(self, *, erasure: Erasure) -> int:
        """Scrub the section's data about the player; return the rows changed."""
        ...


_sections: dict[str, PlayerDataSection] = {}


def player_data_section_register(section: PlayerDataSection) -> None:
    """Add ``section`` to every export and erasure (again under its name: replaced)."""
    _sections[section.name] = section


def player_data_sections() -> list[PlayerDataSection]:
    return list(_sections.values())


def keyset_chunks(
    rows: QuerySet[Any], *, key: Sequence[str], fields: Sequence[str], size: int = EXPORT_CHUNK_ROWS
) -> Iterator[list[dict[str, Any]]]:
    """Yield ``rows`` as lists of at most ``size`` dicts of ``fields``, in ``key`` order.

    Each chunk is one query that starts after the last key of the previous one (no OFFSET,
    no cursor held across chunks), so every query reads ``size`` rows along an index that
    serves ``key``, however many rows there are. ``key`` must be unique and in ``fields``.
    """
    after: tuple[Any, ...] | None = None
    while True:
        page = rows.order_by(*key)
        if after is not None:
            page = page.filter(_after(key, after))
        chunk = list(page.values(*fields)[:size])
        if not chunk:
            return
        yield chunk
        if len(chunk) < size:
            return
        after = tuple(chunk[-1][name] for name in key)


def _after(key: Sequence[str], values: tuple[Any, ...]) -> Q:
    """The rows strictly after ``values`` in the lexicographic order of ``key``."""
    condition = Q()
    for i, name in enumerate(key):
        step = Q(**{f"{name}__gt": values[i]})
        for earlier, value in zip(key[:i], values[:i], strict=True):
            step &= Q(**{earlier: value})
        condition |= step
    return condition


def player_digest(*, realm_id: int, external_user_id: str) -> str:
    """Return the keyed digest an erasure fence keeps of an erased id (never the id)."""
    message = f"{realm_id}:{external_user_id}".encode()
    return hmac.new(str(settings.SECRET_KEY).encode(), message, hashlib.sha256).hexdigest()
