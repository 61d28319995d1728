"""Settings of the scoring engine, read from environment variables.

Unset ``DATABASE_URL`` means an SQLite file beside the project; unset ``CELERY_BROKER_URL``
means Celery tasks run in-process. Both are meant for the embedded demo only.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from gamification.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-used-with-debug"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "gamification.apps.RealmAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "gamification",
    "strategies",
    "scoring",
    "observability",
]

# The Site* middleware is Django's own (and WhiteNoise's) skipped for requests under
# API_PATH_PREFIX, which authenticate with an API key: no static files, session, CSRF check,
# user or messages there.
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "gamification.middleware.RequestLimitsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "gamification.middleware.SiteStaticFilesMiddleware",
    "gamification.middleware.SiteSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "gamification.middleware.SiteCsrfViewMiddleware",
    "gamification.middleware.SiteAuthenticationMiddleware",
    "gamification.middleware.SiteMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gamification.middleware.DatabaseUnavailableMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
API_PATH_PREFIX = "/api/"
# security.W003 looks for CsrfViewMiddleware by its dotted path; SiteCsrfViewMiddleware is
# that middleware for every page outside the API.
SILENCED_SYSTEM_CHECKS = ["security.W003"]

# The largest request body accepted (413 beyond it, before anything reads it). A strategy
# import of a program at DSL_MAX_NODES with its block layout is about 200 KB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("REQUEST_MAX_BYTES", 1024 * 1024, minimum=1024)
# A batch of awards stops starting events after this many seconds; the rest answer 503
# BATCH_TIME_BUDGET_SPENT, so one request cannot hold a worker thread for 1,000 slow runs.
AWARD_BATCH_TIME_BUDGET_SECONDS = env_float("AWARD_BATCH_TIME_BUDGET_SECONDS", 10.0, minimum=0.1)
# A batch stores its awards up to this many at a time in one statement (scoring.batch); the
# task's stats row stays locked while one such statement runs and commits.
AWARD_BATCH_SET_SIZE = env_int("AWARD_BATCH_SET_SIZE", 100, minimum=1)

ROOT_URLCONF = "gamification.urls"
WSGI_APPLICATION = "gamification.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# A health check is a SELECT 1 before every request's first statement. Without it, a kept
# connection the server closed while idle fails that request's first read, which then
# reconnects and reads again (gamification.sql.read_one); any other first statement fails
# once, and Django closes the broken connection at the end of that request.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", False),
    )
}
# DATABASE_POOLER=pgbouncer: DATABASE_URL points at PgBouncer in transaction pooling mode
# (docker-compose.yml), which hands each transaction whichever server connection is free.
# A server-side cursor (QuerySet.iterator()) would outlive its transaction there, so it is
# off, and a kept connection (DATABASE_CONN_MAX_AGE) is one to PgBouncer, which costs
# PostgreSQL nothing.
DATABASE_POOLER = env_str("DATABASE_POOLER") or None
if DATABASE_POOLER not in (None, "pgbouncer"):
    raise ImproperlyConfigured("DATABASE_POOLER must be unset or 'pgbouncer'")
if DATABASE_POOLER == "pgbouncer":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# Prepared statements: parameters are bound by the server and a statement a connection has
# run DATABASE_PREPARE_THRESHOLD times is prepared there, so PostgreSQL stops parsing and
# planning the award's read and write on every call (measured: half its CPU per award).
# Behind a transaction pooler a prepared statement could meet a server connection that never
# saw it (PgBouncer before 1.21, or without max_prepared_statements), so there it is off
# unless DATABASE_PREPARED_STATEMENTS says otherwise.
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", DATABASE_POOLER is None)
if DATABASE_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True,
        prepare_threshold=env_int("DATABASE_PREPARE_THRESHOLD", 5, minimum=0),
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Served by WhiteNoise from STATIC_ROOT (collectstatic), compressed, without a CDN.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Unset, /metrics is open; set, it needs "Authorization: Bearer <token>".
METRICS_BEARER_TOKEN = env_str("METRICS_BEARER_TOKEN")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["gamification.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["gamification.auth.HasRealm"],
    "DEFAULT_THROTTLE_CLASSES": ["gamification.auth.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["gamification.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["gamification.parsers.FiniteJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "gamification.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "gamification.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Gamification scoring engine",
    "DESCRIPTION": "Game servers report task events; the engine scores them with the task's "
    "strategy and stores the points.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "gamification.models.TaskStatus",
        "StrategyStatusEnum": "strategies.models.StrategyStatus",
        "ExperimentStatusEnum": "strategies.models.ExperimentStatus",
        "ExperimentArmEnum": "gamification.models.ExperimentArm",
        "BacktestStatusEnum": "strategies.models.BacktestStatus",
        "ExecutionStatusEnum": "observability.models.ExecutionStatus",
        # Two "type" enums: keep the strategy kinds' name, and name the actors' apart.
        "TypeEnum": "scoring.strategy_types.StrategyKind",
        "ActorTypeEnum": "strategies.serializers.ActorType",
        "LeaderboardPeriodEnum": "gamification.leaderboards.periods.LeaderboardPeriod",
    },
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
if CELERY_BROKER_URL and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport with acknowledgements that cannot wedge the consumer.
    CELERY_BROKER_TRANSPORT = "observability.broker:Transport"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# API-key rate limits count in Redis (REDIS_CACHE_URL, else the broker's Redis) so that every
# process shares one count; the demo counts in process memory.
REDIS_CACHE_URL = env_str("REDIS_CACHE_URL") or (
    CELERY_BROKER_URL
    if CELERY_BROKER_URL and CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    else None
)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "rate_limits": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_CACHE_URL,
            "KEY_PREFIX": "gamification",
            "OPTIONS": {
                "socket_timeout": env_float("REDIS_CACHE_SOCKET_TIMEOUT", 0.2, minimum=0),
                "socket_connect_timeout": env_float("REDIS_CACHE_SOCKET_TIMEOUT", 0.2, minimum=0),
            },
        }
        if REDIS_CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rates"}
    ),
    # A sorted set per leaderboard, to rank players in O(log n); without a Redis, PostgreSQL
    # counts (gamification/leaderboards/cache.py).
    "leaderboards": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_CACHE_URL,
            "KEY_PREFIX": "gamification",
            "OPTIONS": {
                "socket_timeout": env_float("REDIS_CACHE_SOCKET_TIMEOUT", 0.2, minimum=0),
                "socket_connect_timeout": env_float("REDIS_CACHE_SOCKET_TIMEOUT", 0.2, minimum=0),
            },
        }
        if REDIS_CACHE_URL
        else {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    ),
}
#: Lifetime of a leaderboard's cached set: the longest a set that lost an increment (a
#: killed process) stays wrong. A read builds it again from the entries.
LEADERBOARD_CACHE_SECONDS = env_float("LEADERBOARD_CACHE_SECONDS", 3600.0, minimum=1)
#: After Redis failed, how long awards and reads leave it alone.
LEADERBOARD_CACHE_RETRY_SECONDS = env_float("LEADERBOARD_CACHE_RETRY_SECONDS", 5.0, minimum=0)
#: The rate of keys without their own (``600/minute``); unset: no limit.
API_KEY_DEFAULT_RATE = env_str("API_KEY_DEFAULT_RATE") or None
# A task running when the broker connection drops cannot be acknowledged any more; it is
# delivered again, so the copy still running is stopped rather than duplicated.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 1.0, minimum=0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": env_float("CELERY_BROKER_SOCKET_TIMEOUT", 1.0, minimum=0),
    "socket_connect_timeout": env_float("CELERY_BROKER_CONNECT_TIMEOUT", 0.5, minimum=0),
    # How long an unacknowledged (acks_late) message waits before redelivery.
    "visibility_timeout": env_int("CELERY_BROKER_VISIBILITY_TIMEOUT", 300, minimum=1),
    # A worker sweeps for such messages every interval x throttle seconds.
    "unacked_restore_interval": env_int("CELERY_BROKER_UNACKED_RESTORE_INTERVAL", 10, minimum=1),
    "unacked_restore_throttle": env_int("CELERY_BROKER_UNACKED_RESTORE_THROTTLE", 10, minimum=1),
    # Redis has no AMQP heartbeats: this interval bounds how long a consumer waits on a
    # connection that silently died (a frozen or failed-over Redis) before reconnecting,
    # about 1 + 2 x interval seconds.
    "health_check_interval": env_int("CELERY_BROKER_HEALTH_CHECK_INTERVAL", 10, minimum=1),
}
# The worker's watchdog (observability/watchdog.py).
WORKER_WATCHDOG_SECONDS = env_float("WORKER_WATCHDOG_SECONDS", 5.0, minimum=0.1)
WORKER_STALL_SECONDS = env_float("WORKER_STALL_SECONDS", 30.0, minimum=1)
WORKER_STALL_EXIT_SECONDS = env_float("WORKER_STALL_EXIT_SECONDS", 0.0, minimum=0)
WORKER_HEARTBEAT_FILE = env_str("WORKER_HEARTBEAT_FILE", "/tmp/celery-worker-heartbeat.json")
# Webhooks (README, "Webhooks"). Deliveries time out after WEBHOOK_TIMEOUT_SECONDS (the whole
# exchange); a failed one is tried again after WEBHOOK_RETRY_BASE_SECONDS, doubling up to
# WEBHOOK_RETRY_MAX_SECONDS (with jitter), until WEBHOOK_RETRY_WINDOW_SECONDS after the event.
# A claimed delivery is invisible to other workers for WEBHOOK_LEASE_SECONDS, so one whose
# worker died is sent again after that. The beat sweeps for due deliveries every
# WEBHOOK_SWEEP_SECONDS; a commit that wrote some also asks for a sweep at once.
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 5.0, minimum=0.1)
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 5.0, minimum=0.01)
WEBHOOK_RETRY_MAX_SECONDS = env_float("WEBHOOK_RETRY_MAX_SECONDS", 3600.0, minimum=0.01)
WEBHOOK_RETRY_WINDOW_SECONDS = env_float("WEBHOOK_RETRY_WINDOW_SECONDS", 86400.0, minimum=1)
WEBHOOK_LEASE_SECONDS = env_float("WEBHOOK_LEASE_SECONDS", 60.0, minimum=0.5)
if WEBHOOK_LEASE_SECONDS <= WEBHOOK_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("WEBHOOK_LEASE_SECONDS must be longer than WEBHOOK_TIMEOUT_SECONDS")
WEBHOOK_SWEEP_SECONDS = env_float("WEBHOOK_SWEEP_SECONDS", 10.0, minimum=0.1)
# How long one delivery task goes on sending due deliveries before it leaves the rest to the
# next one (the worker's other tasks wait meanwhile).
WEBHOOK_TASK_SECONDS = env_float("WEBHOOK_TASK_SECONDS", 20.0, minimum=0.1)
WEBHOOK_ENDPOINTS_PER_REALM = env_int("WEBHOOK_ENDPOINTS_PER_REALM", 20, minimum=1)

CELERY_BEAT_SCHEDULE = {
    "purge-execution-logs": {
        "task": "observability.tasks.execution_logs_purge_task",
        "schedule": 3600.0,
    },
    "fail-stale-backtests": {
        "task": "strategies.tasks.backtests_expire_task",
        "schedule": 60.0,
    },
    "send-due-webhooks": {
        "task": "gamification.tasks.webhook_deliveries_send_task",
        "schedule": WEBHOOK_SWEEP_SECONDS,
        # A sweep still queued when the next one is due is redundant.
        "options": {"expires": WEBHOOK_SWEEP_SECONDS},
    },
}

# The DSL engine (see docs/dsl.md).
DSL_MAX_NODES = env_int("DSL_MAX_NODES", 1000, minimum=1)
DSL_MAX_DEPTH = env_int("DSL_MAX_DEPTH", 32, minimum=1)
DSL_EXECUTION_TIMEOUT_MS = env_int("DSL_EXECUTION_TIMEOUT_MS", 500, minimum=0)
# The largest event ``data`` accepted, as compact JSON in UTF-8 (413 beyond it, before any run).
DSL_EVENT_DATA_MAX_BYTES = env_int("DSL_EVENT_DATA_MAX_BYTES", 64 * 1024, minimum=2)
# The largest callback data a custom strategy may return (DSL_VALUE_TOO_LARGE beyond it).
DSL_CALLBACK_DATA_MAX_BYTES = env_int("DSL_CALLBACK_DATA_MAX_BYTES", 64 * 1024, minimum=256)
# Bytes of JSON a run's trace may take (execution logs and simulations); values are cut to
# fit and recording stops with a marker once the budget is spent.
DSL_EXECUTION_LOG_TRACE_BYTES = env_int("DSL_EXECUTION_LOG_TRACE_BYTES", 65536, minimum=0)

# Backtests of strategy versions over stored awards (strategies/backtests.py).
# The most events one backtest runs (a request may ask for fewer with maxEvents).
BACKTEST_MAX_EVENTS = env_int("BACKTEST_MAX_EVENTS", 1_000_000, minimum=1)
# Events between two writes of a running backtest's progress (and heartbeat).
BACKTEST_PROGRESS_EVERY = env_int("BACKTEST_PROGRESS_EVERY", 20_000, minimum=1)
# A running backtest whose heartbeat is older than this lost its worker: it is marked failed.
BACKTEST_STALE_SECONDS = env_int("BACKTEST_STALE_SECONDS", 600, minimum=1)
# Seconds one backtest may run its events; past them it fails as BACKTEST_TIME_BUDGET_SPENT.
BACKTEST_TIME_BUDGET_SECONDS = env_float("BACKTEST_TIME_BUDGET_SECONDS", 1800.0, minimum=1.0)
# A queued backtest no worker took within this is marked failed (its message was lost).
BACKTEST_QUEUED_SECONDS = env_int("BACKTEST_QUEUED_SECONDS", 6 * 3600, minimum=1)
# Backtests a realm may have queued or running at once (409 BACKTEST_LIMIT_REACHED beyond).
BACKTEST_MAX_ACTIVE_PER_REALM = env_int("BACKTEST_MAX_ACTIVE_PER_REALM", 3, minimum=1)

# Execution logs of strategy runs.
DSL_EXECUTION_LOG_ENABLED = env_bool("DSL_EXECUTION_LOG_ENABLED", True)
DSL_EXECUTION_LOG_SAMPLE_RATE = env_float(
    "DSL_EXECUTION_LOG_SAMPLE_RATE", 0.05, minimum=0.0, maximum=1.0
)
DSL_EXECUTION_LOG_TRACE_LIMIT = env_int("DSL_EXECUTION_LOG_TRACE_LIMIT", 200, minimum=0)
DSL_EXECUTION_LOG_QUEUE_MAXSIZE = env_int("DSL_EXECUTION_LOG_QUEUE_MAXSIZE", 1000, minimum=1)
DSL_EXECUTION_LOG_RETENTION_DAYS = env_int("DSL_EXECUTION_LOG_RETENTION_DAYS", 30, minimum=1)
# How long rows of runs before a player's erasure that reach the database after it (queued
# execution logs) are still scrubbed on arrival.
PLAYER_ERASURE_FENCE_SECONDS = env_int("PLAYER_ERASURE_FENCE_SECONDS", 86400, minimum=1)
# The execution log's covering indexes (INCLUDE columns) are PostgreSQL-only; SQLite, the
# demo's database, builds them without the extra columns.
SILENCED_SYSTEM_CHECKS += ["models.W040"]
DSL_EXECUTION_LOG_PURGE_BATCH_SIZE = env_int("DSL_EXECUTION_LOG_PURGE_BATCH_SIZE", 10000, minimum=1)
# Rows per task message, and how long the sink stops publishing after a broker failure.
DSL_EXECUTION_LOG_BATCH_SIZE = env_int("DSL_EXECUTION_LOG_BATCH_SIZE", 50, minimum=1)
DSL_EXECUTION_LOG_CIRCUIT_SECONDS = env_float("DSL_EXECUTION_LOG_CIRCUIT_SECONDS", 10.0, minimum=0)
# How long the publisher waits for a batch to fill before it publishes a smaller one.
DSL_EXECUTION_LOG_LINGER_SECONDS = env_float("DSL_EXECUTION_LOG_LINGER_SECONDS", 0.5, minimum=0)
# The worker defers a batch while the database is down: backoff 2, 4, 8... capped here.
DSL_EXECUTION_LOG_RETRY_BACKOFF_MAX = env_float(
    "DSL_EXECUTION_LOG_RETRY_BACKOFF_MAX", 60.0, minimum=0.1
)
# What leaves the web process: each of a row's data, fields and callback data is cut past
# these bytes and this depth (the trace past DSL_EXECUTION_LOG_TRACE_BYTES); a message
# carries at most DSL_EXECUTION_LOG_BATCH_MAX_BYTES of rows.
DSL_EXECUTION_LOG_VALUE_BYTES = env_int("DSL_EXECUTION_LOG_VALUE_BYTES", 65536, minimum=256)
DSL_EXECUTION_LOG_VALUE_MAX_DEPTH = env_int("DSL_EXECUTION_LOG_VALUE_MAX_DEPTH", 32, minimum=1)
DSL_EXECUTION_LOG_BATCH_MAX_BYTES = env_int(
    "DSL_EXECUTION_LOG_BATCH_MAX_BYTES", 1_048_576, minimum=4096
)
# A batch whose store timed out is stored again this many times before it is counted as
# publish_unknown.
DSL_EXECUTION_LOG_UNCONFIRMED_RETRIES = env_int(
    "DSL_EXECUTION_LOG_UNCONFIRMED_RETRIES", 30, minimum=0
)
# A stored batch not persisted this long after it was announced is announced again.
DSL_EXECUTION_LOG_REDELIVER_SECONDS = env_float(
    "DSL_EXECUTION_LOG_REDELIVER_SECONDS", 60.0, minimum=0.5
)
# A batch whose worker died this many times while on it is dead-lettered.
DSL_EXECUTION_LOG_MAX_ATTEMPTS = env_int("DSL_EXECUTION_LOG_MAX_ATTEMPTS", 5, minimum=1)
DSL_EXECUTION_LOG_DEAD_LETTER_BYTES = env_int(
    "DSL_EXECUTION_LOG_DEAD_LETTER_BYTES", 1_048_576, minimum=1024
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Django's default config gives "django" a handler of its own that also prints in DEBUG;
    # naming the logger here drops it, so its records reach the root's handler alone.
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}
