"""Hand execution-log rows to Celery without ever making a scoring request wait.

Measured: with Celery's defaults a publish to a Redis that accepts connections but never
answers blocks for minutes, and a refused connection costs about 0.6 s. So the request thread
only appends to a bounded in-memory buffer (``put_nowait``: microseconds, drops when full);
a daemon publisher thread drains it in batches, one task message per batch, over its own
broker connection whose every operation is bounded (socket and connect timeouts, no publish
retry, no reconnect loop). After a failed publish a circuit breaker drops batches for a while
instead of paying the timeout again. Every lost row is counted with its reason in
``dsl_execution_log_dropped_total``. Without a broker (``CELERY_BROKER_URL`` unset, the demo)
the publisher thread persists the batch in-process, still off the request thread.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from observability import metrics

logger = logging.getLogger(__name__)

Row = dict[str, Any]
#: (row, realm label, strategy type label)
Item = tuple[Row, str, str]

TASK_NAME = "observability.tasks.execution_logs_persist_task"


class ExecutionLogSink:
    """A bounded buffer drained by one background publisher thread per process."""

    def __init__(
        self,
        *,
        maxsize: int | None = None,
        batch_size: int | None = None,
        circuit_seconds: float | None = None,
        broker_url: str | None = None,
        inline: bool | None = None,
        persist: Callable[[list[Row]], Any] | None = None,
    ) -> None:
        self.maxsize = maxsize or settings.DSL_EXECUTION_LOG_QUEUE_MAXSIZE
        self.batch_size = batch_size or settings.DSL_EXECUTION_LOG_BATCH_SIZE
        self.circuit_seconds = (
            circuit_seconds
            if circuit_seconds is not None
            else settings.DSL_EXECUTION_LOG_CIRCUIT_SECONDS
        )
        self.broker_url = broker_url
        self._inline = inline
        self._persist = persist
        self._queue: queue.Queue[Item] = queue.Queue(maxsize=self.maxsize)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._stop = threading.Event()
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self._open_until = 0.0
        self._connection: Any = None

    # Request thread ------------------------------------------------------------------------

    def submit(self, row: Row, *, realm: str, strategy_type: str) -> None:
        """Buffer ``row`` for publishing; drop (and count) it rather than wait."""
        if self._closed:
            metrics.log_dropped_inc(reason="shutdown", realm=realm, strategy_type=strategy_type)
            return
        self._ensure_thread()
        try:
            self._queue.put_nowait((row, realm, strategy_type))
        except queue.Full:
            metrics.log_dropped_inc(reason="queue_full", realm=realm, strategy_type=strategy_type)
            return
        self._idle.clear()
        metrics.log_queue_size.inc()

    def _ensure_thread(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                # A forked child (gunicorn --preload) inherits neither the thread nor a
                # usable connection.
                self._pid = os.getpid()
                self._connection = None
                self._queue = queue.Queue(maxsize=self.maxsize)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name="execution-log-publisher", daemon=True
                )
                self._thread.start()

    # Publisher thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                self._idle.set()
                if self._stop.is_set():
                    break
                continue
            batch = [first]
            while len(batch) < self.batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            metrics.log_queue_size.dec(len(batch))
            try:
                self._publish(batch)
            except Exception:  # pragma: no cover - the loop must survive anything
                logger.exception("Execution-log publisher failed")
                self._drop(batch, "publish_error")
            if self._queue.empty():
                self._idle.set()
        self._close_connection()
        # The in-process path (no broker) gave this thread a database connection of its own;
        # only this thread can close it.
        from django.db import connections

        connections.close_all()

    def _publish(self, batch: list[Item]) -> None:
        now = time.monotonic()
        if now < self._open_until:
            self._drop(batch, "circuit_open")
            return
        rows = [item[0] for item in batch]
        try:
            if self._is_inline():
                self._persist_inline(rows)
            else:
                self._send(rows)
        except Exception as error:  # noqa: BLE001 - any failure drops the batch, counted
            reason = "persist_failed" if self._is_inline() else "broker_unavailable"
            logger.warning(
                "Execution-log batch of %d rows dropped (%s): %r; pausing %.0f s",
                len(rows),
                reason,
                error,
                self.circuit_seconds,
            )
            self._open_until = time.monotonic() + self.circuit_seconds
            self._close_connection()
            self._drop(batch, reason)
            return
        metrics.log_published.inc(len(rows))

    def _is_inline(self) -> bool:
        if self._inline is not None:
            return self._inline
        if self.broker_url:
            return False
        from gamification.celery import app

        return bool(app.conf.task_always_eager)

    def _persist_inline(self, rows: list[Row]) -> None:
        if self._persist is not None:
            self._persist(rows)
            return
        from django.db import close_old_connections

        from observability.services import execution_logs_persist

        close_old_connections()
        try:
            execution_logs_persist(rows=rows)
        finally:
            close_old_connections()

    def _send(self, rows: list[Row]) -> None:
        from kombu.exceptions import EncodeError

        from gamification.celery import app

        if self._connection is None:
            transport_options = {
                **(app.conf.broker_transport_options or {}),
                # Fail at once instead of kombu's default reconnect loop; the breaker
                # decides when to try again.
                "max_retries": 0,
            }
            self._connection = app.connection_for_write(
                url=self.broker_url, transport_options=transport_options
            )
        try:
            self._send_once(app, rows)
        except EncodeError:
            self._send_once(app, _json_safe(rows))

    def _send_once(self, app: Any, rows: list[Row]) -> None:
        app.send_task(
            TASK_NAME,
            args=[rows],
            connection=self._connection,
            retry=False,
            ignore_result=True,
        )

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                logger.debug("Closing the broker connection failed", exc_info=True)

    def _drop(self, batch: list[Item], reason: str) -> None:
        counts: dict[tuple[str, str], int] = {}
        for _, realm, strategy_type in batch:
            counts[(realm, strategy_type)] = counts.get((realm, strategy_type), 0) + 1
        for (realm, strategy_type), amount in counts.items():
            metrics.log_dropped_inc(
                reason=reason, realm=realm, strategy_type=strategy_type, amount=amount
            )

    # Lifecycle -----------------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the buffer is empty and the last batch is handled (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and self._idle.wait(0.05) and self._queue.empty():
                return True
        return False

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop accepting rows, publish what is buffered within ``timeout``, stop the thread.

        Rows still buffered at the deadline are counted as dropped (``shutdown``).
        """
        self._closed = True
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            thread.join(timeout)
        leftover: list[Item] = []
        while True:
            try:
                leftover.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if leftover:
            metrics.log_queue_size.dec(len(leftover))
            self._drop(leftover, "shutdown")

    @property
    def pending(self) -> int:
        return self._queue.qsize()


def _json_safe(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


_sink: ExecutionLogSink | None = None
_sink_lock = threading.Lock()


def sink_get() -> ExecutionLogSink:
    """Return this process's sink, made on first use."""
    global _sink
    if _sink is None:
        with _sink_lock:
            if _sink is None:
                _sink = ExecutionLogSink()
    return _sink


def sink_set(sink: ExecutionLogSink | None) -> ExecutionLogSink | None:
    """Install ``sink`` as the process's sink (tests); return the previous one."""
    global _sink
    previous, _sink = _sink, sink
    return previous


def sink_shutdown(timeout: float = 2.0) -> None:
    """Flush the buffer and stop the publisher (gunicorn ``worker_exit``, Celery shutdown)."""
    sink = _sink
    if sink is not None:
        try:
            sink.shutdown(timeout)
        except Exception:
            logger.exception("Execution-log sink shutdown failed")
