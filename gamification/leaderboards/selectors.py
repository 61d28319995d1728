"""Reads of leaderboards: a page of a board, the neighbourhood of a player, a player's rank.

Every read is a few index ranges of ``LeaderboardEntry`` (never an aggregate over awards):
rows come from PostgreSQL, in board order (points descending, then external user id). Only
the *numbers* of a rank (how many players are above, where one stands) would cost a range as
long as the rank; those come from the board's Redis set when there is one (``cache``), else
from counting the entries. The statements are built once (``sql.board_reads``): building a
query with the ORM would cost a read more than running it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from django.db import connection
from django.utils import timezone as django_timezone

from gamification.leaderboards import sql
from gamification.leaderboards.cache import Board, CachedBoard, cached_board
from gamification.leaderboards.periods import LeaderboardPeriod, period_current
from gamification.models import Game, Task

#: The largest page.
LIMIT_MAX = 100

_Row = tuple[str, float, int]  # external user id, points, awards


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


class _Reads:
    """The statements of one board, with its parameters bound."""

    def __init__(self, board: Board) -> None:
        self.sql = sql.board_reads(game_board=board.task_id is None)
        self.board: list[Any] = [
            board.game_id if board.task_id is None else board.task_id,
            str(board.period),
            connection.ops.adapt_datefield_value(board.start),
        ]

    def rows(self, statement: str, *params: Any) -> list[_Row]:
        with connection.cursor() as cursor:
            cursor.execute(statement, [*self.board, *params])
            return [(user, points, awards) for user, points, awards in cursor.fetchall()]

    def count(self, statement: str, *params: Any) -> int:
        with connection.cursor() as cursor:
            cursor.execute(statement, [*self.board, *params])
            return cursor.fetchone()[0]

    def near(self, statement: str, row: tuple[str, float], limit: int) -> list[_Row]:
        """The rows of a two-part statement around ``row``, in board order."""
        user, points = row
        found = self.rows(statement, points, user, limit, *self.board, points, limit)
        return sorted(found, key=lambda entry: (-entry[1], entry[0]))


class _StoredCounts:
    """Counts of a board in PostgreSQL: index ranges as long as the rank."""

    def __init__(self, reads: _Reads) -> None:
        self.reads = reads
        self._above: dict[float, int] = {}

    def above(self, points: float) -> int:
        if points not in self._above:
            self._above[points] = self.reads.count(self.reads.sql.above, points)
        return self._above[points]

    def position(self, *, external_user_id: str, points: float) -> int:
        ties_before = self.reads.count(self.reads.sql.ties_before, points, external_user_id)
        return self.above(points) + ties_before

    def at(self, position: int) -> None:  # noqa: ARG002 - the page is read by offset instead
        return None


class _CachedCounts:
    """Counts from the board's Redis set, each one from PostgreSQL when the set cannot answer.

    The set is looked up (and built when missing) at the first count: a first page without a
    named player counts nothing and never touches Redis.
    """

    def __init__(self, board: Board, reads: _Reads) -> None:
        self.board = board
        self.stored = _StoredCounts(reads)
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


def _page(reads: _Reads, *, offset: int, limit: int, counts: _Counts) -> list[_Row]:
    if offset > 0:
        anchor = counts.at(offset)
        if anchor == "end":
            return []
        if anchor is not None:
            rows = reads.near(reads.sql.starting, anchor, limit)[:limit]
            if rows and rows[0][:2] == anchor:
                return rows
    return reads.rows(reads.sql.page, limit, offset)


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


def _around(reads: _Reads, *, row: _Row, limit: int, counts: _Counts) -> tuple[list[_Row], int]:
    """Return ``limit`` rows centred on ``row`` (more on one side near an end of the board)
    and the position of the first."""
    keep = limit - 1
    before = reads.near(reads.sql.before, row[:2], keep)
    before = before[max(0, len(before) - keep) :]
    after = reads.near(reads.sql.after, row[:2], keep)[:keep]
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
    reads = _Reads(board)
    named = around or player
    mine: _Row | None = None
    if named is not None:
        found = reads.rows(reads.sql.player_entry, game.realm_id, named)
        mine = found[0] if found else None
    counts = _CachedCounts(board, reads)
    if around is not None and mine is not None:
        rows, start = _around(reads, row=mine, limit=limit, counts=counts)
    else:
        rows, start = _page(reads, offset=offset, limit=limit, counts=counts), offset
    entries = _ranked(rows, start=start, counts=counts)
    me = None
    if mine is not None:
        me = next((entry for entry in entries if entry.external_user_id == mine[0]), None)
        if me is None:
            me = LeaderboardRow(counts.above(mine[1]) + 1, *mine)
    return Leaderboard(
        period=period, since=bounds.since, until=bounds.until, entries=entries, player=me
    )
