"""A Redis sorted set per leaderboard, so that ranking a player is O(log n), not O(rank).

PostgreSQL's entries are the truth; a board's set is a copy that answers counts: how many
players are above some points (``ZCOUNT``), where a player stands (``ZRANK``), who stands at
a position (``ZRANGE``). Pages themselves are always read from PostgreSQL. Scores are the
points negated, so that the set's own order (score, then member bytes) is the board's:
points descending, ties by external user id in byte order (the column's ``C`` collation).

- **After an award commits**, one script adds it to each of its boards that is cached
  (``ZINCRBY``); a board not cached is left alone, so an award never creates a partial set.
- **A board missing from Redis is built lazily** by the read that needs it, from the
  entries, under a marker. Awards that commit while it is built queue their increments,
  tagged with their transaction id; the build applies those the snapshot it read did not
  hold (``pg_current_snapshot()``) and publishes the set atomically. The set remembers that
  snapshot for ``SNAPSHOT_SECONDS``, so that an increment sent late by an award the snapshot
  already held is not applied twice.
- **Redis unreachable**: awards and reads go on without it (timeouts of
  ``REDIS_CACHE_SOCKET_TIMEOUT``; then no try for ``LEADERBOARD_CACHE_RETRY_SECONDS``). The
  process remembers the games whose increments it could not send and drops their sets once
  Redis answers again; reads count in PostgreSQL meanwhile.
- **Stale sets** (an increment lost with a killed process, a Redis restored from an old
  snapshot) expire after ``LEADERBOARD_CACHE_SECONDS``; a read that finds a player's cached
  points differing from the entry's for the same value twice, ``SUSPECT_GRACE_MS`` apart,
  drops the set (a difference that lasts is no increment in flight). Sets are dropped with
  ``UNLINK``; a big one that expires blocks Redis unless ``lazyfree-lazy-expire`` is on.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection, transaction
from redis.exceptions import RedisError

from gamification.models import LeaderboardEntry

logger = logging.getLogger(__name__)

CACHE_ALIAS = "leaderboards"
#: Held by every cached set with the lowest rank, so that a board without entries exists
#: too. No external user id holds a NUL (the API refuses them).
EMPTY_MEMBER = "\x00"
#: How long a build may take before another read may start one instead.
BUILD_SECONDS = 120
#: Rows read from PostgreSQL per query of a build, and members per ZADD: each reply has to
#: come within the socket timeout, however busy Redis is.
BUILD_BATCH = 10_000
BUILD_ZADD = 1_000
#: How long a built set remembers the snapshot it was built from: an award whose increment
#: comes later than this after its commit is counted twice (until the set expires or is
#: found stale).
SNAPSHOT_SECONDS = 60
#: A difference between a player's cached and stored points seen again after this long, for
#: the same stored points, is no increment in flight: the set is dropped.
SUSPECT_GRACE_MS = 2_000

# KEYS: four per board (set, pending, snapshot, running). ARGV: member, score delta, xid.
# A set built from a snapshot that already held the award (its increment ran late) is left.
_AWARD = """
local member, delta, xid = ARGV[1], ARGV[2], ARGV[3]
local n = tonumber(xid)
for i = 1, #KEYS, 4 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local held = false
    local snapshot = redis.call('GET', KEYS[i + 2])
    if snapshot then
      local xmin, xmax = string.match(snapshot, '^(%d+):(%d+)$')
      held = n < tonumber(xmin)
        or (n < tonumber(xmax) and redis.call('SISMEMBER', KEYS[i + 3], xid) == 0)
    end
    if not held then redis.call('ZINCRBY', KEYS[i], delta, member) end
  elseif redis.call('EXISTS', KEYS[i + 1]) == 1 then
    redis.call('RPUSH', KEYS[i + 1], xid .. ' ' .. delta .. ' ' .. member)
  end
end
return 1
"""
# KEYS: board, pending, registry. ARGV: token, pending lifetime, registry lifetime (ms).
# Answers 2 when the caller is to build, 1 when the set exists, 0 when a build is under way.
_BUILD_START = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], KEYS[1])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 2
"""
# KEYS: board, pending, build, snapshot, running. ARGV: token, xmin, xmax, lifetime and
# snapshot lifetime (ms), then the snapshot's running transaction ids. A build whose marker
# is gone (dropped, expired) publishes nothing.
_BUILD_FINISH = """
if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[1] then
  redis.call('UNLINK', KEYS[3])
  return 0
end
local xmin, xmax = tonumber(ARGV[2]), tonumber(ARGV[3])
local running = {}
for i = 6, #ARGV do running[ARGV[i]] = true end
for _, item in ipairs(redis.call('LRANGE', KEYS[2], 1, -1)) do
  local xid, delta, member = string.match(item, '^(%d+) (%S+) (.*)$')
  local n = tonumber(xid)
  if not (n < xmin or (n < xmax and not running[xid])) then
    redis.call('ZINCRBY', KEYS[3], delta, member)
  end
end
redis.call('RENAME', KEYS[3], KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('UNLINK', KEYS[2], KEYS[5])
redis.call('SET', KEYS[4], ARGV[2] .. ':' .. ARGV[3], 'PX', ARGV[5])
if #ARGV >= 6 then
  redis.call('SADD', KEYS[5], unpack(ARGV, 6))
  redis.call('PEXPIRE', KEYS[5], ARGV[5])
end
return 1
"""
# KEYS: registry. Drops every set of the game (and their markers) the registry names.
_GAME_DROP = """
local boards = redis.call('SMEMBERS', KEYS[1])
for _, key in ipairs(boards) do
  redis.call('UNLINK', key, key .. ':pending', key .. ':build', key .. ':snapshot',
    key .. ':running', key .. ':suspect')
end
redis.call('UNLINK', KEYS[1])
return #boards
"""
# KEYS: board, suspect. ARGV: what was seen (member and stored points), now, grace (ms).
_SUSPECT = """
local seen = redis.call('GET', KEYS[2])
if seen then
  local what, since = string.match(seen, '^(.*)|(%d+)$')
  if what == ARGV[1] then
    if tonumber(ARGV[2]) - tonumber(since) >= tonumber(ARGV[3]) then
      redis.call('UNLINK', KEYS[1], KEYS[2])
      return 1
    end
    return 0
  end
end
redis.call('SET', KEYS[2], ARGV[1] .. '|' .. ARGV[2], 'PX', math.max(tonumber(ARGV[3]) * 10, 60000))
return 0
"""


@dataclass(frozen=True, slots=True)
class Board:
    """One leaderboard: a game's (``task_id`` None) or a task's, in one period."""

    game_id: int
    task_id: int | None
    period: str
    start: date

    def entries(self) -> Any:
        """The board's rows (a QuerySet of ``LeaderboardEntry``)."""
        rows = LeaderboardEntry.objects.filter(period=self.period, period_start=self.start)
        if self.task_id is None:
            return rows.filter(game_id=self.game_id, task__isnull=True)
        return rows.filter(task_id=self.task_id)


class _State:
    """What a process knows of Redis: when to try again, and which games' sets went stale."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.retry_at = 0.0
        self.stale_games: set[int] = set()


_state = _State()


def cache_enabled() -> bool:
    """Whether leaderboards are cached: a Redis is configured and the entries are PostgreSQL's.

    The build reads a PostgreSQL snapshot to fence increments; the demo (SQLite) counts.
    """
    return connection.vendor == "postgresql" and isinstance(caches[CACHE_ALIAS], RedisCache)


_clients = threading.local()


def _client() -> Any:
    """Return this thread's client of the cache's Redis (building one costs more than a
    round trip; ``caches`` itself is per thread)."""
    cache = caches[CACHE_ALIAS]
    assert isinstance(cache, RedisCache), "cache_enabled() is checked first"
    if getattr(_clients, "cache", None) is not cache:
        _clients.cache, _clients.client = cache, cache._cache.get_client(write=True)
    return _clients.client


def _prefix() -> str:
    return f"{caches[CACHE_ALIAS].key_prefix}:lb:" if caches[CACHE_ALIAS].key_prefix else "lb:"


def board_key(board: Board) -> str:
    """Return the set's key; every key of a game shares its hash tag (one Cluster slot)."""
    scope = "g" if board.task_id is None else f"t{board.task_id}"
    return f"{_prefix()}{{{board.game_id}}}:{scope}:{board.period}:{board.start.isoformat()}"


def _registry_key(game_id: int) -> str:
    return f"{_prefix()}{{{game_id}}}:boards"


def _score(points: float) -> str:
    return repr(-float(points))


def _usable() -> bool:
    with _state.lock:
        return time.monotonic() >= _state.retry_at


def _failed(error: BaseException, *, stale_games: Iterable[int] = ()) -> None:
    logger.warning("Leaderboard cache unavailable; PostgreSQL answers: %r", error)
    with _state.lock:
        _state.retry_at = time.monotonic() + settings.LEADERBOARD_CACHE_RETRY_SECONDS
        _state.stale_games.update(stale_games)


def _stale_games_drop(client: Any) -> None:
    """Drop the sets of the games this process could not send increments for."""
    with _state.lock:
        games = sorted(_state.stale_games)
    if not games:
        return
    script = client.register_script(_GAME_DROP)
    for game_id in games:
        script(keys=[_registry_key(game_id)], client=client)
    with _state.lock:
        _state.stale_games.difference_update(games)


def cache_points_add(
    *, boards: Iterable[Board], external_user_id: str, points: float, transaction_id: int
) -> None:
    """Add the points of a committed award (negative for a reversal) to its cached boards.

    ``transaction_id`` is the award's (``pg_current_xact_id()``). Never raises: when Redis
    cannot be reached, the game's sets are dropped later instead.
    """
    boards = list(boards)
    games = {board.game_id for board in boards}
    if not _usable():
        with _state.lock:
            _state.stale_games.update(games)
        return
    keys: list[str] = []
    for board in boards:
        key = board_key(board)
        keys += [key, f"{key}:pending", f"{key}:snapshot", f"{key}:running"]
    try:
        client = _client()
        _stale_games_drop(client)
        client.register_script(_AWARD)(
            keys=keys,
            args=[external_user_id, _score(points), transaction_id],
            client=client,
        )
    except (RedisError, OSError) as error:
        _failed(error, stale_games=games)


def cache_game_drop(*, game_id: int) -> bool:
    """Drop every cached set of a game (after its entries were rebuilt); False if Redis is away.

    A set that cannot be dropped now is dropped once Redis answers this process again.
    """
    if not cache_enabled():
        return True
    try:
        client = _client()
        client.register_script(_GAME_DROP)(keys=[_registry_key(game_id)], client=client)
    except (RedisError, OSError) as error:
        _failed(error, stale_games=[game_id])
        return False
    return True


def _snapshot_parse(text: str) -> tuple[int, int, list[str]]:
    xmin, xmax, running = text.split(":")
    return int(xmin), int(xmax), [xid for xid in running.split(",") if xid]


def _entries_read(board: Board) -> Iterator[list[tuple[str, float]]]:
    """Yield the board's (external user id, points) in batches, in the caller's snapshot."""
    last = 0
    while True:
        rows = list(
            board.entries()
            .filter(player_id__gt=last)
            .order_by("player_id")
            .values_list("player_id", "external_user_id", "points")[:BUILD_BATCH]
        )
        if not rows:
            return
        last = rows[-1][0]
        yield [(user, points) for _, user, points in rows]


def _build(client: Any, board: Board, key: str) -> bool:
    """Build the set of ``board`` from its entries; answer whether it exists now."""
    token = secrets.token_hex(8)
    lifetime_ms = int(settings.LEADERBOARD_CACHE_SECONDS * 1000)
    started = client.register_script(_BUILD_START)(
        keys=[key, f"{key}:pending", _registry_key(board.game_id)],
        args=[token, BUILD_SECONDS * 1000, lifetime_ms + BUILD_SECONDS * 1000],
        client=client,
    )
    if started != 2:
        return started == 1
    building = f"{key}:build"
    client.unlink(building)
    client.zadd(building, {EMPTY_MEMBER: math.inf})
    # One snapshot for the whole read, and its id to tell which queued increments it holds.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT CAST(pg_current_snapshot() AS TEXT)")
        xmin, xmax, running = _snapshot_parse(cursor.fetchone()[0])
        for rows in _entries_read(board):
            pipe = client.pipeline(transaction=False)
            for i in range(0, len(rows), BUILD_ZADD):
                chunk = rows[i : i + BUILD_ZADD]
                pipe.zadd(building, {user: _score(points) for user, points in chunk})
            pipe.execute()
    finished = client.register_script(_BUILD_FINISH)(
        keys=[key, f"{key}:pending", building, f"{key}:snapshot", f"{key}:running"],
        args=[token, xmin, xmax, lifetime_ms, SNAPSHOT_SECONDS * 1000, *running],
        client=client,
    )
    return finished == 1


def _tolerates(cached: float, stored: float) -> bool:
    # Increments summed in another order than PostgreSQL's may differ in the last bits.
    return math.isclose(cached, stored, rel_tol=1e-9, abs_tol=1e-9)


class CachedBoard:
    """The counts of one board answered by its Redis set (``cached_board`` checks it exists).

    Each method answers None when Redis failed or disagrees with PostgreSQL, for the caller
    to count in PostgreSQL instead.
    """

    def __init__(self, board: Board, client: Any) -> None:
        self.board = board
        self.key = board_key(board)
        self._client = client

    def _call(self, run: Any) -> Any:
        try:
            return run(self._client)
        except (RedisError, OSError) as error:
            _failed(error)
            return None

    def above(self, points: float) -> int | None:
        """Return how many players have more than ``points``."""
        return self._call(lambda client: client.zcount(self.key, "-inf", f"({_score(points)}"))

    def position(self, *, external_user_id: str, points: float) -> int | None:
        """Return the 0-based position of the player whose entry holds ``points``."""

        def run(client: Any) -> int | None:
            pipe = client.pipeline(transaction=False)
            pipe.zscore(self.key, external_user_id)
            pipe.zrank(self.key, external_user_id)
            score, position = pipe.execute()
            if score is not None and _tolerates(-float(score), points):
                return int(position)
            self._suspect(client, external_user_id=external_user_id, points=points)
            return None

        return self._call(run)

    def at(self, position: int) -> tuple[str, float] | Literal["end"] | None:
        """Return (external user id, points) at ``position``; "end" past the last entry."""

        def run(client: Any) -> tuple[str, float] | Literal["end"]:
            found = client.zrange(self.key, position, position, withscores=True)
            if not found or found[0][0] == EMPTY_MEMBER.encode():
                return "end"
            member, score = found[0]
            return member.decode(), -float(score)

        return self._call(run)

    def _suspect(self, client: Any, *, external_user_id: str, points: float) -> None:
        dropped = client.register_script(_SUSPECT)(
            keys=[self.key, f"{self.key}:suspect"],
            args=[f"{external_user_id}|{points!r}", int(time.time() * 1000), SUSPECT_GRACE_MS],
            client=client,
        )
        if dropped:
            logger.warning("Leaderboard cache %s was stale; dropped to be built again", self.key)


def cached_board(board: Board) -> CachedBoard | None:
    """Return the cached counts of ``board``, building its set first if missing; None when
    Redis is away, the set is being built by another read, or the caller is in a transaction
    (a build needs a snapshot of its own)."""
    if not cache_enabled() or not _usable():
        return None
    key = board_key(board)
    try:
        client = _client()
        _stale_games_drop(client)
        if client.exists(key) or (not connection.in_atomic_block and _build(client, board, key)):
            return CachedBoard(board, client)
    except (RedisError, OSError) as error:
        _failed(error)
    return None


def cache_state_reset() -> None:
    """Forget what this process knows of Redis (its failures and stale games), as at start."""
    with _state.lock:
        _state.retry_at = 0.0
        _state.stale_games.clear()
