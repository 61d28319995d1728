"""The core domain: tenants, their API keys, games, tasks, players, the points awarded, and
the webhooks that tell a realm's servers what happened."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.deletion import Collector

from gamification.ids import uuid7
from gamification.leaderboards.periods import LeaderboardPeriod, timezone_validate
from gamification.rates import rate_validate

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class Realm(models.Model):
    """A tenant. Every other row belongs to exactly one realm."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[timezone_validate],
        help_text="IANA time zone (such as Europe/Paris) of the leaderboards' days, weeks and "
        "months. After a change, run manage.py leaderboards_rebuild.",
    )
    conversion_rate = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.000001"))],
        help_text="Points per coin when a player converts points into coins; empty: "
        "conversions are refused unless the game names a rate.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class RealmRole(models.TextChoices):
    """What a person may do in one realm (a publisher may also do what a designer does)."""

    DESIGNER = "designer", "Designer (create, edit, simulate)"
    PUBLISHER = "publisher", "Publisher (also publish, archive, roll back)"
    OPERATOR = "operator", "Operator (logs, replays, dashboards)"


class RealmMembership(models.Model):
    """A staff user's role in one realm; one role per person and realm."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="realm_memberships"
    )
    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=RealmRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["realm__slug", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "realm"], name="membership_one_role_per_realm")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.realm}: {self.role}"


class ApiKey(models.Model):
    """A game server's credential. Only a SHA-256 hash of the secret is stored."""

    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, unique=True, help_text="Public part of the key.")
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    rate = models.CharField(
        max_length=32,
        blank=True,
        default="",
        validators=[rate_validate],
        help_text="Requests allowed, such as 600/minute; empty: API_KEY_DEFAULT_RATE.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


def by_user(**options: Any) -> models.ForeignKey[User | None, User | None]:
    """Return a foreign key to the staff user who did something (the row outlives the user).

    With ``by_api_key`` it records who did a privileged action: a staff user or an API key.
    """
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        **options,
    )


def by_api_key(**options: Any) -> models.ForeignKey[ApiKey | None, ApiKey | None]:
    """Return a foreign key to the API key that did something (the row outlives the key)."""
    return models.ForeignKey(
        ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", **options
    )


class StreakPeriod(models.TextChoices):
    """The periods a game counts streaks in (empty: the game keeps no streaks)."""

    NONE = "", "No streaks"
    DAY = "day", "Day"
    WEEK = "week", "Week (from Monday)"


class Game(models.Model):
    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="games")
    external_game_id = models.CharField(max_length=255)
    platform = models.CharField(max_length=100, blank=True, default="")
    strategy_id = models.CharField(max_length=100, default="default")
    params = models.JSONField(default=dict, blank=True)
    conversion_rate = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.000001"))],
        help_text="Points per coin of conversions that name this game; empty: the realm's.",
    )
    api_key_used = by_api_key()
    levels = models.JSONField(
        default=list,
        blank=True,
        help_text='Thresholds on the points in the game, ascending: [{"level": 1, "name": '
        '"Rookie", "min_points": 0}, ...].',
    )
    streak_period = models.CharField(
        max_length=8, choices=StreakPeriod, blank=True, default=StreakPeriod.NONE
    )
    achievements_api_key = by_api_key(
        help_text="The API key that last changed the levels or the streak period."
    )
    achievements_version = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Bumped by every change of levels, streak period or badges: the award read "
        "answers it, and a process reloads its copy of the definitions when it moves.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["external_game_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["realm", "external_game_id"], name="game_external_id_unique_per_realm"
            )
        ]

    def __str__(self) -> str:
        return self.external_game_id


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Task(models.Model):
    """An activity inside a game. Without a strategy of its own it follows its game's."""

    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="tasks")
    external_task_id = models.CharField(max_length=255)
    strategy_id = models.CharField(max_length=100)
    inherits_strategy = models.BooleanField(
        default=True, help_text="Follows the game's strategy when the game's strategy changes."
    )
    status = models.CharField(max_length=20, choices=TaskStatus, default=TaskStatus.OPEN)
    params = models.JSONField(default=dict, blank=True)
    api_key_used = by_api_key()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["external_task_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["game", "external_task_id"], name="task_external_id_unique_per_game"
            )
        ]
        indexes = [models.Index(fields=["strategy_id"], name="task_strategy_idx")]

    def __str__(self) -> str:
        return self.external_task_id


class Player(models.Model):
    """A game's end user, created on the first award."""

    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="players")
    external_user_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["external_user_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["realm", "external_user_id"], name="player_external_id_unique_per_realm"
            )
        ]

    def __str__(self) -> str:
        return self.external_user_id


class ExperimentArm(models.TextChoices):
    """Which side of a strategy experiment scored an award."""

    CONTROL = "control", "Control (the published version)"
    CANDIDATE = "candidate", "Candidate"


class Award(models.Model):
    """Points given to a player for one task event.

    ``experiment_arm`` is set when the family of the task's strategy ran an experiment: the
    arm the player was assigned to; ``strategy_version`` is then the version of that arm.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="awards")
    # The composite indexes below lead with these columns; single-column indexes would only
    # add a B-tree insert to every award.
    player = models.ForeignKey(
        Player, on_delete=models.CASCADE, related_name="awards", db_index=False
    )
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="awards", db_index=False)
    points = models.FloatField()
    case_name = models.CharField(max_length=200, null=True, blank=True)
    callback_data = models.JSONField(default=dict, blank=True)
    data = models.JSONField(default=dict, blank=True)
    strategy_id = models.CharField(max_length=100)
    strategy_version = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    response_body = models.TextField(
        null=True, blank=True, help_text="The exact JSON answered first, replayed for retries."
    )
    api_key_used = by_api_key()
    created_at = models.DateTimeField()
    experiment_arm = models.CharField(max_length=16, choices=ExperimentArm, null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["realm", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="award_idempotency_key_unique_per_realm",
            )
        ]
        permissions = [("reverse_award", "Can reverse an award")]
        indexes = [
            # Recent-window counts (user.recent_measurements_count, constant_effort) are
            # range scans over one player's awards on one task.
            models.Index(fields=["player", "task", "created_at"], name="award_player_task_time"),
            models.Index(fields=["task", "created_at"], name="award_task_time"),
            # An experiment's figures read its awards by bound id and time; partial, so that
            # only awards scored under an experiment pay for one more index entry.
            models.Index(
                fields=["strategy_id", "created_at"],
                condition=Q(experiment_arm__isnull=False),
                name="award_experiment_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.points:g} to {self.player_id} on {self.task_id}"


class AwardReversal(models.Model):
    """The compensation of one award: its points taken back everywhere they counted.

    A row of its own rather than a negative award: the award table stays the record of what
    was scored (strategies' recent-window counts, experiments and backtests read it as
    events), and the one-to-one key makes a second reversal of an award impossible, also
    when two race. Player, task, points and the award's time are copied so that the award
    path can discount reversed awards from a window by an index range of this small table.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="award_reversals")
    award = models.OneToOneField(Award, on_delete=models.CASCADE, related_name="reversal")
    player = models.ForeignKey(
        Player, on_delete=models.CASCADE, related_name="award_reversals", db_index=False
    )
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="award_reversals", db_index=False
    )
    points = models.FloatField(help_text="The award's points, negated.")
    award_created_at = models.DateTimeField()
    reason = models.CharField(max_length=500)
    reversed_by = by_user()
    reversed_by_key = by_api_key()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["player", "task", "award_created_at"], name="reversal_player_task_time"
            ),
            models.Index(fields=["task"], name="reversal_task"),
        ]

    def __str__(self) -> str:
        return f"reversal of {self.award_id}"


class TaskStats(models.Model):
    """Running totals of a task's awards, kept in the award's transaction.

    Counting a task's awards on demand is a scan that grows with history; these rows make
    every analytics value of an event an index lookup. The mean gap between consecutive
    awards telescopes to (last - first) / (count - 1), so first and last are enough.
    """

    task = models.OneToOneField(
        Task, on_delete=models.CASCADE, primary_key=True, related_name="stats"
    )
    award_count = models.BigIntegerField(default=0)
    points_total = models.FloatField(default=0)
    first_award_at = models.DateTimeField()
    last_award_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "task stats"

    def __str__(self) -> str:
        return f"{self.task_id}: {self.award_count} awards"


class PlayerTaskStats(models.Model):
    """Running totals of one player's awards on one task, kept in the award's transaction."""

    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="task_stats")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="player_stats")
    award_count = models.BigIntegerField(default=0)
    points_total = models.FloatField(default=0)
    first_award_at = models.DateTimeField()
    last_award_at = models.DateTimeField()
    previous_award_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "player task stats"
        constraints = [
            models.UniqueConstraint(fields=["player", "task"], name="player_task_stats_unique")
        ]
        indexes = [models.Index(fields=["task", "player"], name="player_stats_task_idx")]

    def __str__(self) -> str:
        return f"{self.player_id} on {self.task_id}: {self.award_count} awards"


class WebhookEventType(models.TextChoices):
    """What a realm's webhook endpoints may subscribe to."""

    AWARD_CREATED = "award.created", "An award was stored"
    AWARD_REVERSED = "award.reversed", "An award was reversed"
    BADGE_EARNED = "badge.earned", "A player earned a badge"
    LEVEL_REACHED = "level.reached", "A player reached a level"
    STRATEGY_PUBLISHED = "strategy.published", "A strategy version was published"
    STRATEGY_ARCHIVED = "strategy.archived", "A strategy version was archived"


#: The event ``POST /api/v1/webhooks/{id}/test`` sends; nobody subscribes to it.
WEBHOOK_TEST_EVENT = "webhook.test"


class WebhookEndpoint(models.Model):
    """A URL of a realm that receives the events it subscribed to, signed with its secret.

    The secret signs every delivery, so it is kept as it is (unlike an API key's, which is
    only ever compared) and shown once, when the endpoint is created.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # Database-level cascades, all the way down: an endpoint's history can be long, and the
    # ORM's cascade would load every row of it before deleting it (Django wants the variants
    # of a chain uniform, so the endpoint keeps no reference with a Python-level one).
    realm = models.ForeignKey(Realm, on_delete=models.DB_CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2000)
    events = models.JSONField(default=list, help_text="The event types delivered here.")
    secret = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url


class WebhookMessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookMessage(models.Model):
    """The outbox: one event for one endpoint, written in the transaction of its cause.

    ``event_id`` is the ``webhook-id`` receivers see, the same on every attempt (and for
    every endpoint of the event). A pending message is due at ``next_attempt_at``; a worker
    that claims it moves that forward by a lease, so a worker killed mid-delivery leaves it
    due again, and ``lease`` names the claim whose outcome may still change the row.
    """

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField()
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.DB_CASCADE, related_name="messages", db_index=False
    )
    event_type = models.CharField(max_length=64)
    body = models.TextField(help_text="The exact JSON signed and sent on every attempt.")
    status = models.CharField(
        max_length=16, choices=WebhookMessageStatus, default=WebhookMessageStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    expires_at = models.DateTimeField(help_text="No attempt is made after this.")
    lease = models.UUIDField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_latency_ms = models.FloatField(null=True, blank=True)
    last_error = models.CharField(max_length=500, null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The endpoint's deliveries, newest first (the admin's list of an endpoint).
            models.Index(fields=["endpoint", "-created_at"], name="webhook_msg_endpoint_time"),
            # The workers' sweep reads only what is still to be sent.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_msg_due",
            ),
        ]
        permissions = [("redeliver_webhookmessage", "Can redeliver a webhook delivery")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} to {self.endpoint_id}"

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header of every attempt."""
        return webhook_id_of(self.event_id)


def webhook_id_of(event_id: uuid.UUID) -> str:
    return f"msg_{event_id.hex}"


class WebhookAttempt(models.Model):
    """One try at delivering a message: what the receiver answered, or why it could not."""

    id = models.BigAutoField(primary_key=True)
    message = models.ForeignKey(
        WebhookMessage, on_delete=models.DB_CASCADE, related_name="attempt_history", db_index=False
    )
    attempted_at = models.DateTimeField()
    delivered = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField()
    error = models.CharField(max_length=500, blank=True, default="")
    response_excerpt = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-attempted_at"]
        verbose_name = "webhook attempt"
        indexes = [
            models.Index(fields=["message", "-attempted_at"], name="webhook_attempt_message_time")
        ]

    def __str__(self) -> str:
        outcome = self.status_code if self.status_code is not None else self.error
        return f"attempt at {self.attempted_at:%Y-%m-%d %H:%M:%S}: {outcome}"


class BytewiseCharField(models.CharField):
    """A CharField that sorts and compares by bytes on every database.

    PostgreSQL gets the ``C`` collation (SQLite compares bytes already), so that ties on a
    leaderboard are ordered the same way as in a Redis sorted set, and the index compares
    with ``memcmp`` rather than a locale's rules.
    """

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        params = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params


def _cascade_game_boards(
    collector: Collector, field: models.Field[Any, Any], sub_objs: Any, using: str
) -> None:
    """Delete a game's own boards with it; its tasks' boards go with the tasks.

    A task board's row has no index by game, so deleting by game alone would scan the table.
    """
    models.CASCADE(collector, field, sub_objs.filter(task__isnull=True), using)


class LeaderboardEntry(models.Model):
    """One player's points and award count on one board in one period.

    A board is a game's (``task`` empty: every task of the game) or one task's, for all time
    or for the day, week or month starting at ``period_start`` in the realm's time zone. Every
    award adds itself to its eight entries in its own write; ``external_user_id`` is the
    player's, copied so that a page is one index range, ties in the player's id order.
    """

    game = models.ForeignKey(
        Game, on_delete=_cascade_game_boards, related_name="leaderboard_entries", db_index=False
    )
    task = models.ForeignKey(
        Task,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="leaderboard_entries",
        db_index=False,
    )
    period = models.CharField(max_length=5, choices=LeaderboardPeriod)
    period_start = models.DateField(
        help_text="First local day of the period; 0001-01-01 for all time."
    )
    # No index leads with the player: each would cost every award eight more B-tree inserts,
    # to spare deleting a player a scan.
    player = models.ForeignKey(
        Player, on_delete=models.CASCADE, related_name="leaderboard_entries", db_index=False
    )
    external_user_id = BytewiseCharField(max_length=255)
    points = models.FloatField(default=0)
    awards = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "leaderboard entries"
        constraints = [
            models.UniqueConstraint(
                fields=["game", "period", "period_start", "player"],
                condition=Q(task__isnull=True),
                name="leaderboard_game_entry_unique",
            ),
            models.UniqueConstraint(
                fields=["task", "period", "period_start", "player"],
                condition=Q(task__isnull=False),
                name="leaderboard_task_entry_unique",
            ),
        ]
        indexes = [
            # A page, a rank count and a neighbourhood are ranges of these.
            models.Index(
                fields=["game", "period", "period_start", "-points", "external_user_id"],
                condition=Q(task__isnull=True),
                name="leaderboard_game_rank",
            ),
            models.Index(
                fields=["task", "period", "period_start", "-points", "external_user_id"],
                condition=Q(task__isnull=False),
                name="leaderboard_task_rank",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_user_id}: {self.points:g} ({self.period} {self.period_start})"


class Wallet(models.Model):
    """A player's balances: points earned and not converted, and coins.

    Changed only together with a ``LedgerEntry`` in the same transaction, so that each
    balance is the sum of the player's entries. Points are NUMERIC with six decimals (an
    award's float points rounded to a millionth as they enter): exact sums, in whatever order
    concurrent awards add up.
    """

    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="wallets")
    player = models.OneToOneField(Player, on_delete=models.CASCADE, related_name="wallet")
    points_balance = models.DecimalField(max_digits=38, decimal_places=6, default=Decimal(0))
    coins_balance = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["player__external_user_id"]
        permissions = [("adjust_wallet", "Can post an adjustment to a wallet")]

    def __str__(self) -> str:
        return f"wallet of {self.player}"


class LedgerEntryKind(models.TextChoices):
    AWARD = "award", "Award"
    REVERSAL = "reversal", "Reversal of an award"
    CONVERSION = "conversion", "Conversion of points into coins"
    ADJUSTMENT = "adjustment", "Adjustment by an operator"


class LedgerEntry(models.Model):
    """One change of a wallet, never updated or deleted while its player exists.

    ``award`` links the award an ``award`` or ``reversal`` entry comes from; it is no
    database constraint, since an entry outlives its award (a deleted task takes its awards,
    not the points its players earned), and no index, which would cost every award one more
    B-tree insert. A conversion keeps its ``Idempotency-Key``, what it asked and its answer.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # Found through the player's index; one more index on every award's entry for deleting
    # a realm (rare, and its players go first) is not worth it.
    realm = models.ForeignKey(
        Realm, on_delete=models.CASCADE, related_name="ledger_entries", db_index=False
    )
    player = models.ForeignKey(
        Player, on_delete=models.CASCADE, related_name="ledger_entries", db_index=False
    )
    kind = models.CharField(max_length=16, choices=LedgerEntryKind)
    points = models.DecimalField(max_digits=38, decimal_places=6, default=Decimal(0))
    coins = models.BigIntegerField(default=0)
    award = models.ForeignKey(
        Award,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(max_length=500, blank=True, default="")
    actor_user = by_user()
    actor_key = by_api_key()
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    request = models.JSONField(null=True, blank=True, help_text="What a conversion asked.")
    response_body = models.TextField(
        null=True, blank=True, help_text="The JSON a conversion answered, replayed for retries."
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["realm", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="ledger_idempotency_key_unique_per_realm",
            ),
            models.CheckConstraint(
                condition=~Q(kind="conversion") | (Q(points__lt=0) & Q(coins__gt=0)),
                name="ledger_conversion_spends_points_for_coins",
            ),
        ]
        indexes = [
            # A wallet's ledger, newest first: a page is one index range.
            models.Index(fields=["player", "-created_at", "-id"], name="ledger_player_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points} points, {self.coins} coins"


class Badge(models.Model):
    """A badge of a game, earned by the award after which its ``condition`` holds.

    ``condition`` is a DSL condition over the event's ``data.*`` and the player's state in
    the game after the award (``player.points``, ``player.awards``, ``player.level``,
    ``player.streak``, ``player.tasks.<externalTaskId>.awards``); see
    ``gamification.achievements``. A badge that is not ``repeatable`` is granted once.
    """

    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="badges")
    badge_id = models.CharField(max_length=255)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    repeatable = models.BooleanField(default=False)
    condition = models.JSONField()
    api_key_used = by_api_key()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["badge_id"]
        constraints = [
            models.UniqueConstraint(fields=["game", "badge_id"], name="badge_id_unique_per_game")
        ]

    def __str__(self) -> str:
        return self.badge_id


class PlayerBadge(models.Model):
    """One grant of a badge to a player, by one award.

    ``once`` copies the badge's not being repeatable when granted: the partial unique index
    on it lets concurrent awards grant such a badge exactly once.
    """

    id = models.BigAutoField(primary_key=True)
    player = models.ForeignKey(
        Player, on_delete=models.CASCADE, related_name="badges", db_index=False
    )
    badge = models.ForeignKey(Badge, on_delete=models.CASCADE, related_name="grants")
    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="+", db_index=False)
    award = models.ForeignKey(
        Award, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    once = models.BooleanField(default=True)
    earned_at = models.DateTimeField()

    class Meta:
        ordering = ["earned_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["player", "badge"], condition=Q(once=True), name="player_badge_once"
            )
        ]
        indexes = [
            # The award read asks for a player's held badges of one game; so does the profile.
            models.Index(fields=["player", "game"], name="player_badge_player_game"),
        ]

    def __str__(self) -> str:
        return f"{self.badge_id} to {self.player_id} at {self.earned_at:%Y-%m-%d %H:%M:%S}"


class PlayerGameStats(models.Model):
    """A player's streak in one game, kept by the award's write when the game counts streaks.

    ``streak_period_start`` is the first local day of the last period the player earned an
    award in. Points and award counts are not here: the game's all-time leaderboard entry
    holds them already.
    """

    player = models.ForeignKey(
        Player, on_delete=models.CASCADE, related_name="game_stats", db_index=False
    )
    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="player_stats")
    current_streak = models.PositiveIntegerField(default=0)
    longest_streak = models.PositiveIntegerField(default=0)
    streak_period_start = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "player game stats"
        constraints = [
            models.UniqueConstraint(fields=["player", "game"], name="player_game_stats_unique")
        ]

    def __str__(self) -> str:
        return f"{self.player_id} in {self.game_id}: streak {self.current_streak}"


class PlayerDataRequestKind(models.TextChoices):
    EXPORT = "export", "Export"
    ERASE = "erase", "Erase"


class PlayerDataRequest(models.Model):
    """The audit record of a player's data export or erasure: who asked, when, for whom.

    It names the player by ``player`` and ``subject``, never by the external id a game
    server knows: after an erasure both point at the tombstone, so the record keeps nothing
    the erasure removed (earlier exports of the player are moved to the tombstone too).
    ``rows`` counts what each section exported or erased.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="player_data_requests")
    kind = models.CharField(max_length=8, choices=PlayerDataRequestKind)
    player = models.ForeignKey(
        Player,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="data_requests",
        help_text="The player now (the tombstone, once erased).",
    )
    subject = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="The tombstone that replaced the external id (erasures and earlier exports).",
    )
    requested_by = by_user()
    requested_by_key = by_api_key(verbose_name="requested by API key")
    rows = models.JSONField(default=dict, blank=True, help_text="Rows per section.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "player data request"
        indexes = [models.Index(fields=["realm", "-created_at"], name="player_request_realm_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of player {self.player_id} at {self.created_at}"


class PlayerErasureFence(models.Model):
    """What lets rows about an erased player that arrive after the erasure be scrubbed too.

    Execution logs reach the database through a queue, seconds (or, with the workers down,
    hours) after the run: a row of a run before the erasure may land after it. The fence
    keeps a keyed digest of the erased id (HMAC with ``SECRET_KEY``, not the id) with the
    tombstone, for ``PLAYER_ERASURE_FENCE_SECONDS``; the worker's insert gives a row of an
    earlier run whose digest it finds the tombstone and none of the run's inputs.
    """

    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64)
    tombstone = models.CharField(max_length=255)
    erased_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["digest"], name="player_fence_digest")]

    def __str__(self) -> str:
        return f"{self.tombstone} ({self.erased_at})"
