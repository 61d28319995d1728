"""Gunicorn settings for the scoring engine (``gunicorn -c gunicorn.conf.py gamification.wsgi``).

Everything tunable comes from the environment:

``PORT`` (8000) or ``GUNICORN_BIND``, ``GUNICORN_WORKERS`` (2 x CPUs), ``GUNICORN_THREADS`` (4),
``GUNICORN_TIMEOUT`` (30), ``GUNICORN_GRACEFUL_TIMEOUT`` (30), ``GUNICORN_KEEPALIVE`` (5),
``GUNICORN_MAX_REQUESTS`` (0, off), ``GUNICORN_REUSE_PORT`` (1: a listening socket per worker),
``GUNICORN_ACCESS_LOG`` (``-``: stdout; ``off``: no access log and no cost per request),
``GUNICORN_CONTROL_SOCKET`` (unset: no control socket),
``FORWARDED_ALLOW_IPS`` (read by gunicorn itself), ``PROMETHEUS_MULTIPROC_DIR``.

Each worker thread holds its own database connection (``DATABASE_CONN_MAX_AGE``), so one
instance may open up to workers x threads connections to PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"{name} must be >= {minimum}, got {value}")
    return value


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SystemExit(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Server socket.
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_env_int('PORT', 8000, minimum=1)}"
backlog = 2048
# With one listening socket shared by all workers, a gthread worker that is awake accepts
# every connection waiting, and keep-alive clients stay where they landed: measured at
# concurrency 8, one worker served all eight connections while the other idled. With
# SO_REUSEPORT each worker binds a socket of its own and the kernel spreads new connections
# over them by their address hash; a worker that exits drops what waits in its own backlog.
reuse_port = _env_bool("GUNICORN_REUSE_PORT", True)

# Workers. gthread keeps HTTP keep-alive connections open (sync closes every one) and lets
# a worker overlap requests blocked on PostgreSQL or Redis.
worker_class = "gthread"
workers = _env_int("GUNICORN_WORKERS", 2 * _cpu_count(), minimum=1)
threads = _env_int("GUNICORN_THREADS", 4, minimum=1)
timeout = _env_int("GUNICORN_TIMEOUT", 30, minimum=1)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30, minimum=1)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5, minimum=1)
# Recycling workers is off by default: every new worker pid leaves its counter files behind
# in PROMETHEUS_MULTIPROC_DIR, which makes each /metrics scrape slower.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", max_requests // 10)
# Heartbeat files on tmpfs: fchmod on a disk-backed (e.g. overlayfs) /tmp can stall workers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Runtime control socket (gunicornc): off unless a path is given; $HOME may be read-only.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

# Logging: access log to stdout (unless off: then gunicorn formats nothing per request),
# server log to stderr.
_access_log = os.environ.get("GUNICORN_ACCESS_LOG", "-").strip()
accesslog = None if _access_log.lower() in {"", "off", "none", "0", "false"} else _access_log
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
proc_name = "gamification"


# Prometheus multiprocess mode: every worker writes its samples to files in
# PROMETHEUS_MULTIPROC_DIR and /metrics aggregates them (django_prometheus does this when the
# variable is set). Files left by a previous run would be counted again, so start empty.
def on_starting(server) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    # Remove only prometheus_client's own files, never an arbitrary tree.
    stale = list(path.glob("*.db"))
    for file in stale:
        file.unlink(missing_ok=True)
    server.log.info(
        "Prometheus multiprocess dir %s ready (%d stale files removed)", path, len(stale)
    )


def child_exit(server, worker) -> None:
    """In the master: drop the live-gauge files of a worker that is gone."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    try:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
    except Exception:  # a metrics cleanup failure must not take the master down
        server.log.exception("mark_process_dead(%s) failed", worker.pid)


def worker_exit(server, worker) -> None:  # noqa: ARG001 - gunicorn hook
    """In the exiting worker: flush buffered observability records (execution logs)."""
    try:
        from observability.sink import sink_shutdown

        sink_shutdown()
    except (ImportError, AttributeError) as exc:
        server.log.warning("observability sink not flushed: %s", exc)
    except Exception:  # never crash a worker on its way out
        server.log.exception("observability sink_shutdown() failed")
