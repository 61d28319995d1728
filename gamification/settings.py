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
    "django.contrib.admin",
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

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

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

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", True),
    )
}
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

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["gamification.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["gamification.auth.HasRealm"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
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
        "ExecutionStatusEnum": "observability.models.ExecutionStatus",
    },
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
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
}
CELERY_BEAT_SCHEDULE = {
    "purge-execution-logs": {
        "task": "observability.tasks.execution_logs_purge_task",
        "schedule": 3600.0,
    },
}

# The DSL engine (see docs/dsl.md).
DSL_MAX_NODES = env_int("DSL_MAX_NODES", 1000, minimum=1)
DSL_MAX_DEPTH = env_int("DSL_MAX_DEPTH", 32, minimum=1)
DSL_EXECUTION_TIMEOUT_MS = env_int("DSL_EXECUTION_TIMEOUT_MS", 500, minimum=0)
# Bytes of JSON a run's trace may take (execution logs and simulations); values are cut to
# fit and recording stops with a marker once the budget is spent.
DSL_EXECUTION_LOG_TRACE_BYTES = env_int("DSL_EXECUTION_LOG_TRACE_BYTES", 65536, minimum=0)

# Execution logs of strategy runs.
DSL_EXECUTION_LOG_ENABLED = env_bool("DSL_EXECUTION_LOG_ENABLED", True)
DSL_EXECUTION_LOG_SAMPLE_RATE = env_float(
    "DSL_EXECUTION_LOG_SAMPLE_RATE", 0.05, minimum=0.0, maximum=1.0
)
DSL_EXECUTION_LOG_TRACE_LIMIT = env_int("DSL_EXECUTION_LOG_TRACE_LIMIT", 200, minimum=0)
DSL_EXECUTION_LOG_QUEUE_MAXSIZE = env_int("DSL_EXECUTION_LOG_QUEUE_MAXSIZE", 1000, minimum=1)
DSL_EXECUTION_LOG_RETENTION_DAYS = env_int("DSL_EXECUTION_LOG_RETENTION_DAYS", 30, minimum=1)
# The execution log's covering indexes (INCLUDE columns) are PostgreSQL-only; SQLite, the
# demo's database, builds them without the extra columns.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
DSL_EXECUTION_LOG_PURGE_BATCH_SIZE = env_int("DSL_EXECUTION_LOG_PURGE_BATCH_SIZE", 10000, minimum=1)
# Rows per task message, and how long the sink stops publishing after a broker failure.
DSL_EXECUTION_LOG_BATCH_SIZE = env_int("DSL_EXECUTION_LOG_BATCH_SIZE", 50, minimum=1)
DSL_EXECUTION_LOG_CIRCUIT_SECONDS = env_float("DSL_EXECUTION_LOG_CIRCUIT_SECONDS", 10.0, minimum=0)
# The worker retries a batch while the database is down: backoff 1, 2, 4... capped here.
DSL_EXECUTION_LOG_RETRY_BACKOFF_MAX = env_float(
    "DSL_EXECUTION_LOG_RETRY_BACKOFF_MAX", 60.0, minimum=0.1
)
DSL_EXECUTION_LOG_PERSIST_MAX_RETRIES = env_int(
    "DSL_EXECUTION_LOG_PERSIST_MAX_RETRIES", 100, minimum=0
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
