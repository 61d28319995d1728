"""Fixtures of the execution-log tests: runs, private sinks, a real broker and worker."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery.exceptions import AlwaysEagerIgnored
from django.db import connection

from observability.observer import ExecutionObserver, observer_set
from observability.sink import ExecutionLogSink, sink_set
from scoring.builtins.base import ScoringEvent, StrategyResult
from scoring.dsl.errors import DslExecutionError, DslTimeoutError
from scoring.strategy_types import ResolvedStrategy, StrategyKind, StrategyRun

ROOT = Path(__file__).resolve().parents[2]
DEFINITION_ID = "0190a5b0-0000-7000-8000-000000000001"


@pytest.fixture(autouse=True)
def _quiet_eager_publish():
    """Tests publish to a real broker while the test settings keep Celery eager."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlwaysEagerIgnored)
        yield


def make_run(
    *,
    status: str = "ok",
    points: float = 10,
    case_name: str | None = "fast",
    duration_ms: float = 3.0,
    nodes: int = 12,
    trace: list[dict[str, Any]] | None = None,
    definition_id: str = DEFINITION_ID,
    kind: str = StrategyKind.DSL_FULL,
) -> StrategyRun:
    strategy = ResolvedStrategy(
        strategy_id=f"custom:{definition_id}",
        version="3",
        kind=kind,
        definition_id=definition_id,
    )
    error = None
    if status == "error":
        error = DslExecutionError("DSL_ARITH_DIV_BY_ZERO", "division by zero", node_id="n7")
    elif status == "timeout":
        error = DslTimeoutError("DSL_TIMEOUT", "the strategy ran out of time")
    return StrategyRun(
        strategy=strategy,
        status=status,
        result=StrategyResult(points=points, case_name=case_name) if status == "ok" else None,
        error=error,
        duration_ms=duration_ms,
        nodes_executed=nodes,
        trace=trace if trace is not None else [{"nodeId": "n1", "type": "literal", "value": 1}],
        fields={"user.measurements_count": 4, "data.time": 12.5},
    )


def make_event(user: str = "u1") -> ScoringEvent:
    return ScoringEvent(
        external_game_id="g1", external_task_id="t1", external_user_id=user, data={"time": 12.5}
    )


@pytest.fixture
def captured(settings) -> Iterator[tuple[ExecutionObserver, list[dict[str, Any]]]]:  # noqa: ARG001
    """An observer whose sink persists nothing but records every published row, in-process.

    It asks for ``settings`` so that it is torn down before a test's settings are restored.
    """
    rows: list[dict[str, Any]] = []
    sink = ExecutionLogSink(inline=True, persist=rows.extend, circuit_seconds=0)
    observer = ExecutionObserver(sink=sink)
    previous = observer_set(observer)
    yield observer, rows
    sink.shutdown(2)
    observer_set(previous)


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is unset: run under .ci/with-services for Redis tests")
    return url


@pytest.fixture
def fresh_redis(redis_url: str) -> str:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return redis_url


@pytest.fixture
def refused_url() -> str:
    """A loopback port nobody listens on."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def hung_url() -> Iterator[str]:
    """A listening socket that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                continue
            accepted.append(client)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(1)
    for client in accepted:
        client.close()
    server.close()


def test_database_url(name: str | None = None, *, port: int | None = None) -> str:  # noqa: PT028
    """The DATABASE_URL of pytest-django's test database (``test_<name>``); not a test."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    netloc = parts.netloc
    if port is not None:
        netloc = f"{parts.netloc.rsplit(':', 1)[0]}:{port}"
    return urlunsplit(
        (parts.scheme, netloc, "/" + (name or connection.settings_dict["NAME"]), "", "")
    )


test_database_url.__test__ = False  # type: ignore[attr-defined]


class Worker:
    """A real ``celery -A gamification worker`` subprocess in its own process group."""

    def __init__(
        self,
        *,
        broker_url: str,
        database_url: str,
        log: Path,
        args: tuple[str, ...] = (),
        **env: str,
    ) -> None:
        self.log = log
        environment = {
            **os.environ,
            "CELERY_BROKER_URL": broker_url,
            "DATABASE_URL": database_url,
            "DATABASE_CONN_MAX_AGE": "0",
            "SECRET_KEY": "test-only-secret-key",
            "CELERY_BROKER_VISIBILITY_TIMEOUT": "3",
            "CELERY_BROKER_UNACKED_RESTORE_INTERVAL": "1",
            "CELERY_BROKER_UNACKED_RESTORE_THROTTLE": "1",
            "DSL_EXECUTION_LOG_RETRY_BACKOFF_MAX": "1",
            "DSL_EXECUTION_LOG_REDELIVER_SECONDS": "3",
            "WORKER_WATCHDOG_SECONDS": "0.5",
            "WORKER_HEARTBEAT_FILE": str(self.heartbeat_file),
            "LOG_LEVEL": "INFO",
            **env,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "gamification",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                *args,
            ],
            cwd=ROOT,
            env=environment,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log.read_text()}")
            if " ready." in self.log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready:\n{self.log.read_text()}")

    @property
    def heartbeat_file(self) -> Path:
        return self.log.with_suffix(".heartbeat.json")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker(transactional_db, fresh_redis: str, tmp_path: Path):  # noqa: ARG001
    """Start real Celery workers on the test Redis and the test database; stop them after.

    Transactional, so that the workers, in their own processes, see the test's rows.
    """
    workers: list[Worker] = []

    def start(
        *,
        database_url: str | None = None,
        broker_url: str | None = None,
        args: tuple[str, ...] = (),
        **env: str,
    ) -> Worker:
        worker = Worker(
            broker_url=broker_url or fresh_redis,
            database_url=database_url or test_database_url(),
            log=tmp_path / f"worker-{len(workers)}.log",
            args=args,
            **env,
        )
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()
    connection.close()


@pytest.fixture
def broker_sink(fresh_redis: str) -> Iterator[ExecutionLogSink]:
    """The process sink, publishing to the test Redis."""
    sink = ExecutionLogSink(broker_url=fresh_redis, circuit_seconds=1)
    previous = sink_set(sink)
    observer = ExecutionObserver(sink=sink)
    previous_observer = observer_set(observer)
    yield sink
    sink.shutdown(5)
    observer_set(previous_observer)
    sink_set(previous)


class RedisServer:
    """A private redis-server process, for tests that freeze or stop it."""

    def __init__(self, workdir: Path) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url)
        assert wait_for(lambda: _pings(client), timeout=10), "redis-server did not start"
        client.close()

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        self.thaw()
        self.process.terminate()
        self.process.wait(10)


def _pings(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - not up yet
        return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def wait_for(predicate, timeout: float = 30, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def new_uuid() -> str:
    return str(uuid.uuid4())


class TcpProxy:
    """A loopback TCP forwarder that can be taken down (refusing, connections cut) and back up.

    Pointing the worker's DATABASE_URL at it makes "the database is down" real for the worker
    while the test keeps its own direct connection.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._server: socket.socket | None = None
        self._pipes: list[socket.socket] = []
        self._stop = threading.Event()

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        server.settimeout(0.2)
        self._server = server
        self._stop.clear()
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.close()
            self._server = None
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.shutdown(socket.SHUT_RDWR)
            pipe.close()
        self._pipes.clear()

    def _accept(self, server: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._pipes += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.close()


def log_row(realm_id: int, user: str, **changes: Any) -> dict[str, Any]:
    """One execution-log row as the sink sends it (a failed run of DEFINITION_ID)."""
    from gamification.ids import uuid7

    row: dict[str, Any] = {
        "id": str(uuid7()),
        "created_at": "2030-01-01T00:00:00+00:00",
        "realm_id": realm_id,
        "strategy_id": f"custom:{DEFINITION_ID}",
        "strategy_version": "1",
        "strategy_type": "DSL_FULL",
        "external_user_id": user,
        "status": "error",
        "error_code": "DSL_ARITH_DIV_BY_ZERO",
        "duration_ms": 1.5,
        "nodes_executed": 3,
        "sampled": False,
        "sample_rate": 1.0,
        "data": {"x": 1},
    }
    row.update(changes)
    return row


def log_make(**fields: Any):
    """Create one execution-log row (defaults: a sampled ok run of DEFINITION_ID, now)."""
    from django.utils import timezone

    from observability.models import StrategyExecutionLog

    values: dict[str, Any] = {
        "created_at": timezone.now(),
        "strategy_id": f"custom:{DEFINITION_ID}",
        "definition_id": DEFINITION_ID,
        "strategy_version": "3",
        "strategy_type": "DSL_FULL",
        "external_game_id": "g1",
        "external_task_id": "t1",
        "external_user_id": "u1",
        "status": "ok",
        "duration_ms": 1.0,
        "nodes_executed": 10,
        "sampled": True,
        "sample_rate": 0.05,
        "data": {"time": 12.5},
        "fields": {"user.measurements_count": 4},
        "trace": [{"nodeId": "n1", "type": "literal", "value": 1}],
    }
    values.update(fields)
    if values["status"] != "ok" and "sampled" not in fields:
        values["sampled"] = False
        values["sample_rate"] = 1.0
    return StrategyExecutionLog.objects.create(**values)


@pytest.fixture
def dataset(realm):
    """A fixed data set: 4 ok rows sampled at 5 % (20 runs each) and 3 failures."""
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    ok = [
        (1.0, 10.0, "fast", 10),
        (2.0, 10.0, "fast", 10),
        (3.0, 20.0, "slow", 20),
        (4.0, 0.0, None, 20),
    ]
    for i, (duration, points, case, nodes) in enumerate(ok):
        log_make(
            realm=realm,
            created_at=now - timedelta(minutes=10 + i),
            duration_ms=duration,
            points=points,
            case_name=case,
            nodes_executed=nodes,
            external_user_id=f"ok-{i}",
        )
    failures = [
        ("error", "DSL_ARITH_DIV_BY_ZERO", 5.0),
        ("error", "DSL_ARITH_DIV_BY_ZERO", 6.0),
        ("timeout", "DSL_TIMEOUT", 500.0),
    ]
    for i, (status, code, duration) in enumerate(failures):
        log_make(
            realm=realm,
            created_at=now - timedelta(minutes=20 + i),
            status=status,
            error_code=code,
            duration_ms=duration,
            nodes_executed=5,
            external_user_id=f"fail-{i}",
        )
    # Noise that no figure may include: another strategy, another realm, too old.
    from tests.factories import RealmFactory

    log_make(realm=realm, definition_id=None, strategy_id="custom:other", duration_ms=999)
    log_make(realm=RealmFactory(slug="elsewhere"), duration_ms=999)
    log_make(realm=realm, created_at=now - timedelta(days=3), duration_ms=999)
    return now
