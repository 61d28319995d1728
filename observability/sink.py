"""Hand execution-log rows to Celery without ever making a scoring request wait.

Measured: with Celery's defaults a publish to a Redis that accepts connections but never
answers blocks for minutes, and a refused connection costs about 0.6 s. So the request thread
only appends to a bounded in-memory buffer (``put_nowait``: microseconds, drops when full);
a daemon publisher thread drains it in batches over its own broker connections, whose every
operation is bounded (socket and connect timeouts, no retry, no reconnect loop). After a
failed publish a circuit breaker drops batches for a while instead of paying the timeout
again. Every lost row is counted with its reason in ``dsl_execution_log_dropped_total``.
Without a broker (``CELERY_BROKER_URL`` unset, the demo) the publisher thread persists the
batch in-process, still off the request thread.

What leaves the process is bounded: each row's ``data``, ``fields``, ``analytics``,
``parent_data``, ``callback_data`` and ``trace`` are cut to a byte and depth budget
(:func:`row_bounded`, the row's ``notes`` say so), rows are encoded to JSON here, and a batch
is split so that no message exceeds ``DSL_EXECUTION_LOG_BATCH_MAX_BYTES``. A batch is first
stored in the outbox (:mod:`observability.outbox`) and then announced by a task message
carrying its id only.

A store that times out may still have reached Redis (the bytes left, the answer did not
come back). Such a batch is kept and stored again under the same id once the breaker
closes; storing is idempotent, so it lands once whatever happened the first time. Only a
batch still unconfirmed when its retries run out or the process stops is counted, under its
own reason ``publish_unknown``: it may or may not have been persisted.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import redis
from django.conf import settings

from gamification.ids import uuid7
from observability import metrics
from observability.rows import ExecutionLogRow
from scoring.dsl.bounded import Bounded, json_bounded

logger = logging.getLogger(__name__)

#: (row, realm label, strategy type label)
Item = tuple[ExecutionLogRow, str, str]

TASK_NAME = "observability.tasks.execution_logs_persist_task"

BoundedValue = Literal["data", "fields", "analytics", "parent_data", "callback_data", "trace"]

#: The row's values that come from outside (the event) or grow with it (the trace).
BOUNDED_VALUES: tuple[BoundedValue, ...] = (
    "data",
    "fields",
    "analytics",
    "parent_data",
    "callback_data",
    "trace",
)

#: How a row's notes name its cut values: ``"data, trace truncated to the log's budget..."``.
_CUT_NOTE = " truncated to the log's budget"


def value_bounded(name: BoundedValue, value: Any) -> Bounded:
    """Return ``value`` cut to the budget of the row's value ``name``."""
    budget = (
        settings.DSL_EXECUTION_LOG_TRACE_BYTES
        if name == "trace"
        else settings.DSL_EXECUTION_LOG_VALUE_BYTES
    )
    return json_bounded(
        value, max_bytes=budget, max_depth=settings.DSL_EXECUTION_LOG_VALUE_MAX_DEPTH
    )


def row_bounded(row: ExecutionLogRow) -> ExecutionLogRow:
    """Return ``row`` with its outside values cut to the byte and depth budget, noted."""
    cut: list[str] = []
    bounded = ExecutionLogRow(**row)
    for name in BOUNDED_VALUES:
        value = row.get(name)
        if value is None:
            continue
        result = value_bounded(name, value)
        bounded[name] = result.value
        if result.truncated:
            cut.append(name)
    if cut:
        note = (
            f"{', '.join(cut)}{_CUT_NOTE} ({settings.DSL_EXECUTION_LOG_VALUE_BYTES} bytes, "
            f"depth {settings.DSL_EXECUTION_LOG_VALUE_MAX_DEPTH}; trace "
            f"{settings.DSL_EXECUTION_LOG_TRACE_BYTES} bytes); cut parts are marked "
            '"$truncated"'
        )
        bounded["notes"] = "; ".join(filter(None, [row.get("notes"), note]))
    return bounded


def row_cut_values(notes: str | None) -> set[str]:
    """Return the names of the values :func:`row_bounded` cut, from the row's notes."""
    for note in (notes or "").split("; "):
        names, found, _ = note.partition(_CUT_NOTE)
        if found:
            return set(names.split(", ")) & set(BOUNDED_VALUES)
    return set()


def row_encoded(row: ExecutionLogRow) -> str:
    """Encode a bounded row as ASCII JSON (escapes survive any transport byte for byte)."""
    return json.dumps(row, separators=(",", ":"), default=str)


def payload_joined(encoded_rows: list[str]) -> str:
    """Join encoded rows into a batch payload: a JSON list."""
    return "[" + ",".join(encoded_rows) + "]"


def broker_connection(url: str) -> Any:
    """A publishing connection that fails at once instead of kombu's reconnect loop: the
    caller (a breaker, the watchdog's next round) decides when to try again."""
    from celery import current_app as app

    options = {**(app.conf.broker_transport_options or {}), "max_retries": 0}
    return app.connection_for_write(url=url, transport_options=options)


def batch_announce(*, connection: Any, batch_id: str) -> None:
    """Send the task message naming an outbox batch."""
    from celery import current_app as app

    app.send_task(
        TASK_NAME, args=[batch_id], connection=connection, retry=False, ignore_result=True
    )


def close_quietly(resource: Any, *, what: str) -> None:
    """Close a connection that may already be broken."""
    if resource is None:
        return
    try:
        resource.close()
    except Exception:
        logger.debug("Closing the %s failed", what, exc_info=True)


@dataclass(slots=True)
class _Unconfirmed:
    """A stored batch whose store timed out: it may be in Redis or not."""

    batch_id: str
    payload: str
    items: list[Item]
    tries: int


class ExecutionLogSink:
    """A bounded buffer drained by one background publisher thread per process."""

    def __init__(
        self,
        *,
        maxsize: int | None = None,
        batch_size: int | None = None,
        circuit_seconds: float | None = None,
        linger_seconds: float | None = None,
        broker_url: str | None = None,
        inline: bool | None = None,
        persist: Callable[[list[ExecutionLogRow]], Any] | None = None,
    ) -> None:
        self.maxsize = maxsize or settings.DSL_EXECUTION_LOG_QUEUE_MAXSIZE
        self.batch_size = batch_size or settings.DSL_EXECUTION_LOG_BATCH_SIZE
        self.batch_max_bytes = settings.DSL_EXECUTION_LOG_BATCH_MAX_BYTES
        self.circuit_seconds = (
            circuit_seconds
            if circuit_seconds is not None
            else settings.DSL_EXECUTION_LOG_CIRCUIT_SECONDS
        )
        self.linger_seconds = (
            linger_seconds
            if linger_seconds is not None
            else settings.DSL_EXECUTION_LOG_LINGER_SECONDS
        )
        self.broker_url = broker_url
        self._inline = inline
        self._persist = persist
        self._queue: queue.Queue[Item] = queue.Queue(maxsize=self.maxsize)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._stop = threading.Event()
        self._hurry = threading.Event()
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self._open_until = 0.0
        self._connection: Any = None
        self._redis: redis.Redis | None = None
        self._unconfirmed: _Unconfirmed | None = None

    # Request thread ------------------------------------------------------------------------

    def submit(self, row: ExecutionLogRow, *, realm: str, strategy_type: str) -> None:
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
                self._redis = None
                self._unconfirmed = None
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
            if self._unconfirmed is not None and time.monotonic() >= self._open_until:
                self._confirm()
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._unconfirmed is None:
                    self._idle.set()
                if self._stop.is_set():
                    break
                continue
            batch = self._batch_from(first)
            metrics.log_queue_size.dec(len(batch))
            try:
                self._publish(batch)
            except Exception:  # pragma: no cover - the loop must survive anything
                logger.exception("Execution-log publisher failed")
                self._drop(batch, "publish_error")
            if self._queue.empty() and self._unconfirmed is None:
                self._idle.set()
        self._give_up_unconfirmed()
        self._close_connection()
        # The in-process path (no broker) gave this thread a database connection of its own;
        # only this thread can close it.
        from django.db import connections

        connections.close_all()

    def _batch_from(self, first: Item) -> list[Item]:
        """Collect a batch: what is buffered, plus what arrives within the linger.

        Each publish costs the process the same CPU (a store, a task message) whatever its
        size, and that CPU is taken from the request threads under the GIL; waiting a moment
        for a full batch makes it one publish per ``batch_size`` rows instead of one per row.
        ``flush`` and ``shutdown`` cut the wait short.
        """
        batch = [first]
        deadline = time.monotonic() + self.linger_seconds
        while len(batch) < self.batch_size:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stop.is_set() or self._hurry.is_set():
                break
            try:
                batch.append(self._queue.get(timeout=min(remaining, 0.05)))
            except queue.Empty:
                continue
        return batch

    def _publish(self, batch: list[Item]) -> None:
        if self._is_inline():
            self._publish_inline(batch)
            return
        if self._unconfirmed is not None and time.monotonic() >= self._open_until:
            self._confirm()
        # Checked before encoding: an open breaker costs the process no work per row.
        if self._circuit_open():
            self._drop(batch, "circuit_open")
            return
        for items, payload in self._chunks(batch):
            if self._circuit_open():
                self._drop(items, "circuit_open")
                continue
            self._deliver(items, payload)

    def _circuit_open(self) -> bool:
        """Whether batches are dropped now; a held unconfirmed batch keeps it open."""
        return time.monotonic() < self._open_until or self._unconfirmed is not None

    def _publish_inline(self, batch: list[Item]) -> None:
        if time.monotonic() < self._open_until:
            self._drop(batch, "circuit_open")
            return
        rows = [row_bounded(item[0]) for item in batch]
        try:
            self._persist_inline(rows)
        except Exception as error:  # noqa: BLE001 - any failure drops the batch, counted
            self._trip(error, len(rows), "persist_failed")
            self._drop(batch, "persist_failed")
            return
        metrics.log_published.inc(len(rows))

    def _chunks(self, batch: list[Item]) -> Iterator[tuple[list[Item], str]]:
        """Encode the rows and group them into payloads of at most ``batch_max_bytes``."""
        items: list[Item] = []
        encoded: list[str] = []
        size = 2
        for item in batch:
            text = row_encoded(row_bounded(item[0]))
            if encoded and size + len(text) + 1 > self.batch_max_bytes:
                yield items, payload_joined(encoded)
                items, encoded, size = [], [], 2
            items.append(item)
            encoded.append(text)
            size += len(text) + 1
        if encoded:
            yield items, payload_joined(encoded)

    def _deliver(self, items: list[Item], payload: str) -> None:
        batch_id = str(uuid7())
        try:
            self._store(batch_id, payload)
        except redis.TimeoutError as error:
            self._unconfirmed = _Unconfirmed(batch_id, payload, items, tries=1)
            self._trip(error, len(items), "unconfirmed, will store it again")
            return
        except Exception as error:  # noqa: BLE001 - refused, reset, DNS: nothing was stored
            self._trip(error, len(items), "broker_unavailable")
            self._drop(items, "broker_unavailable")
            return
        metrics.log_published.inc(len(items))
        self._announce(batch_id, len(items))

    def _confirm(self) -> None:
        """Store the unconfirmed batch again under its id; count it once retries run out."""
        pending = self._unconfirmed
        assert pending is not None
        try:
            self._store(pending.batch_id, pending.payload)
        except Exception as error:  # noqa: BLE001 - still no answer
            pending.tries += 1
            if pending.tries > settings.DSL_EXECUTION_LOG_UNCONFIRMED_RETRIES:
                self._give_up_unconfirmed()
            self._trip(error, len(pending.items), "still unconfirmed")
            return
        self._unconfirmed = None
        metrics.log_published.inc(len(pending.items))
        self._announce(pending.batch_id, len(pending.items))

    def _give_up_unconfirmed(self) -> None:
        pending, self._unconfirmed = self._unconfirmed, None
        if pending is not None:
            logger.warning(
                "Execution-log batch %s of %d rows: outcome unknown after %d tries",
                pending.batch_id,
                len(pending.items),
                pending.tries,
            )
            self._drop(pending.items, "publish_unknown")

    def _announce(self, batch_id: str, size: int) -> None:
        """Send the task message; a batch stored but not announced is delivered when due."""
        try:
            self._send_task(batch_id)
        except Exception as error:  # noqa: BLE001 - the outbox keeps the batch
            self._trip(error, size, "stored; the worker delivers it when due")

    def _trip(self, error: BaseException, size: int, outcome: str) -> None:
        logger.warning(
            "Execution-log batch of %d rows: %s (%r); pausing %.0f s",
            size,
            outcome,
            error,
            self.circuit_seconds,
        )
        self._open_until = time.monotonic() + self.circuit_seconds
        self._close_connection()

    def _is_inline(self) -> bool:
        if self._inline is not None:
            return self._inline
        if self.broker_url:
            return False
        from celery import current_app as app

        return bool(app.conf.task_always_eager)

    def _persist_inline(self, rows: list[ExecutionLogRow]) -> None:
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

    def _broker_url(self) -> str:
        from celery import current_app as app

        return self.broker_url or app.conf.broker_url

    def _store(self, batch_id: str, payload: str) -> None:
        from observability.outbox import Outbox, redis_client

        if self._redis is None:
            self._redis = redis_client(self._broker_url())
        Outbox(self._redis).store(
            batch_id=batch_id,
            payload=payload,
            redeliver_after=settings.DSL_EXECUTION_LOG_REDELIVER_SECONDS,
        )

    def _send_task(self, batch_id: str) -> None:
        if self._connection is None:
            self._connection = broker_connection(self._broker_url())
        batch_announce(connection=self._connection, batch_id=batch_id)

    def _send(self, rows: list[ExecutionLogRow]) -> None:
        """Store and announce ``rows`` as one batch now; raise on any failure."""
        batch_id = str(uuid7())
        self._store(batch_id, payload_joined([row_encoded(row_bounded(row)) for row in rows]))
        self._send_task(batch_id)

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        close_quietly(connection, what="broker connection")
        client, self._redis = self._redis, None
        close_quietly(client, what="outbox connection")

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
        self._hurry.set()
        try:
            while time.monotonic() < deadline:
                if self._queue.empty() and self._idle.wait(0.05) and self._queue.empty():
                    return True
            return False
        finally:
            self._hurry.clear()

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
        if thread is None or not thread.is_alive():
            self._give_up_unconfirmed()

    @property
    def pending(self) -> int:
        return self._queue.qsize()


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
