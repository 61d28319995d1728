"""Reads of leaderboards: a page of a board, the neighbourhood of a player, a player's rank.

Every read is a few index ranges of ``LeaderboardEntry`` (never an aggregate over awards):
rows come from PostgreSQL, in board order (points descending, then external user id). Only
the *numbers* of a rank (how many players are above, where one stands) would cost a range as
long as the rank; those come from the board's Redis set when there is one (``cache``), else
from counting the entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from django.utils import timezone as django_timezone

from gamification.leaderboards.cache import Board, CachedBoard, cached_board
from gamification.leaderboards.periods import LeaderboardPeriod, period_current
from gamification.models import Game, Task

#: The largest page.
LIMIT_MAX = 100

_Row = tuple[str, float, int]  # external user id, points, awards
_COLUMNS = ("external_user_id", "points", "awards")
_ORDER = ("-points", "external_user_id")
_REVERSED = ("points", "-external_user_id")


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    rank: int
    external_user_id: str
    points: float
    awards: int


@dataclass(frozen=True, slots=True)
class Leaderboard:
    """A board's page in its current period (``since`` and ``until`` None for all time)."""

    period: LeaderboardPeriod
    since: datetime | None
    until: datetime | None
    entries: list[LeaderboardRow]
    player: LeaderboardRow | None


class _Counts(Protocol):
    """How many players are above some points, where one stands, who stands somewhere."""

    def above(self, points: float) -> int: ...

    def position(self, *, external_user_id: str, points: float) -> int: ...

    def at(self, position: int) -> tuple[str, float] | Literal["end"] | None: ...


class _StoredCounts:
    """Counts of a board in PostgreSQL: index ranges as long as the rank."""

    def __init__(self, board: Board) -> None:
        self.rows = board.entries()
        self._above: dict[float, int] = {}

    def above(self, points: float) -> int:
        if points not in self._above:
            self._above[points] = self.rows.filter(points__gt=points).count()
        return self._above[points]

    def position(self, *, external_user_id: str, points: float) -> int:
        ties_before = self.rows.filter(points=points, external_user_id__lt=external_user_id)
        return self.above(points) + ties_before.count()

    def at(self, position: int) -> None:  # noqa: ARG002 - the page is read by offset instead
        return None


class _CachedCounts:
    """Counts from the board's Redis set, each one from PostgreSQL when the set cannot answer.

    The set is looked up (and built when missing) at the first count: a first page without a
    named player counts nothing and never touches Redis.
    """

    def __init__(self, board: Board) -> None:
        self.board = board
        self.stored = _StoredCounts(board)
        self._cached: CachedBoard | Literal[False] | None = False

    def _set(self) -> CachedBoard | None:
        if self._cached is False:
            self._cached = cached_board(self.board)
        return self._cached

    def above(self, points: float) -> int:
        cached = self._set()
        count = None if cached is None else cached.above(points)
        return self.stored.above(points) if count is None else count

    def position(self, *, external_user_id: str, points: float) -> int:
        cached = self._set()
        found = (
            None
            if cached is None
            else cached.position(external_user_id=external_user_id, points=points)
        )
        if found is None:
            return self.stored.position(external_user_id=external_user_id, points=points)
        return found

    def at(self, position: int) -> tuple[str, float] | Literal["end"] | None:
        cached = self._set()
        return None if cached is None else cached.at(position)


def _rows(queryset, limit: int) -> list[_Row]:
    return list(queryset.values_list(*_COLUMNS)[:limit])


def _from(board: Board, *, external_user_id: str, points: float, limit: int) -> list[_Row]:
    """Return up to ``limit`` rows from the entry (``external_user_id``, ``points``) on."""
    rows = board.entries().order_by(*_ORDER)
    found = _rows(rows.filter(points=points, external_user_id__gte=external_user_id), limit)
    if len(found) < limit:
        found += _rows(rows.filter(points__lt=points), limit - len(found))
    return found


def _after(board: Board, row: _Row, limit: int) -> list[_Row]:
    rows = board.entries().order_by(*_ORDER)
    user, points, _ = row
    found = _rows(rows.filter(points=points, external_user_id__gt=user), limit)
    if len(found) < limit:
        found += _rows(rows.filter(points__lt=points), limit - len(found))
    return found


def _before(board: Board, row: _Row, limit: int) -> list[_Row]:
    """Return up to ``limit`` rows just above ``row``, in board order."""
    rows = board.entries().order_by(*_REVERSED)
    user, points, _ = row
    found = _rows(rows.filter(points=points, external_user_id__lt=user), limit)
    if len(found) < limit:
        found += _rows(rows.filter(points__gt=points), limit - len(found))
    return found[::-1]


def _page(board: Board, *, offset: int, limit: int, counts: _Counts) -> list[_Row]:
    ordered = board.entries().order_by(*_ORDER)
    if offset == 0:
        return _rows(ordered, limit)
    anchor = counts.at(offset)
    if anchor == "end":
        return []
    if anchor is not None:
        user, points = anchor
        rows = _from(board, external_user_id=user, points=points, limit=limit)
        if rows and rows[0][:2] == (user, points):
            return rows
    return _rows(ordered[offset:], limit)


def _ranked(rows: list[_Row], *, start: int, counts: _Counts) -> list[LeaderboardRow]:
    """Rank ``rows``, the first at 0-based position ``start`` (1, 2, 2, 4 for ties).

    An entry first of its points has the rank of its position; the first row may share its
    points with rows above the page, so its rank is counted.
    """
    ranked: list[LeaderboardRow] = []
    for i, (user, points, awards) in enumerate(rows):
        if not ranked:
            rank = 1 if start == 0 else counts.above(points) + 1
        elif points == ranked[-1].points:
            rank = ranked[-1].rank
        else:
            rank = max(start + i + 1, ranked[-1].rank + 1)
        ranked.append(LeaderboardRow(rank, user, points, awards))
    return ranked


def _around(board: Board, *, row: _Row, limit: int, counts: _Counts) -> tuple[list[_Row], int]:
    """Return ``limit`` rows centred on ``row`` (more on one side near an end of the board)
    and the position of the first."""
    before, after = _before(board, row, limit - 1), _after(board, row, limit - 1)
    n_after = min(len(after), limit - 1 - (limit - 1) // 2)
    n_before = min(len(before), limit - 1 - n_after)
    n_after = min(len(after), limit - 1 - n_before)
    position = counts.position(external_user_id=row[0], points=row[1])
    rows = [*before[len(before) - n_before :], row, *after[:n_after]]
    return rows, max(0, position - n_before)


def leaderboard_read(
    *,
    game: Game,
    task: Task | None,
    timezone: str,
    period: LeaderboardPeriod,
    limit: int = 10,
    offset: int = 0,
    around: str | None = None,
    player: str | None = None,
    now: datetime | None = None,
) -> Leaderboard:
    """Return a page of the game's board (or ``task``'s) in the current ``period``.

    ``around`` names a player whose neighbourhood is the page instead of ``offset``'s (the
    first page when that player has no entry); the entry of the player named by ``around``
    or ``player`` is answered as ``player`` wherever it stands, None when there is none.
    """
    bounds = period_current(period=period, timezone=timezone, now=now or django_timezone.now())
    board = Board(
        game_id=game.pk,
        task_id=task.pk if task is not None else None,
        period=period,
        start=bounds.start,
    )
    named = around or player
    mine: _Row | None = None
    if named is not None:
        # One row at most: not .first(), whose ORDER BY id could walk the whole table.
        found = board.entries().filter(
            player__realm_id=game.realm_id, player__external_user_id=named
        )
        mine = next(iter(found.values_list(*_COLUMNS)[:1]), None)
    counts = _CachedCounts(board)
    if around is not None and mine is not None:
        rows, start = _around(board, row=mine, limit=limit, counts=counts)
    else:
        rows, start = _page(board, offset=offset, limit=limit, counts=counts), offset
    entries = _ranked(rows, start=start, counts=counts)
    me = None
    if mine is not None:
        me = next((entry for entry in entries if entry.external_user_id == mine[0]), None)
        if me is None:
            me = LeaderboardRow(counts.above(mine[1]) + 1, *mine)
    return Leaderboard(
        period=period, since=bounds.since, until=bounds.until, entries=entries, player=me
    )
