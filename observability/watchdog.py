"""The worker's watchdog: announce due outbox batches again, and notice a worker that stopped.

One thread in the worker's main process, started when the worker is ready. Every
``WORKER_WATCHDOG_SECONDS`` it

* sends the ids of due outbox batches again (a lost message, a worker killed mid-batch, a
  database that was down): see :mod:`observability.outbox`;
* checks that the worker still consumes: messages wait in its queue, none is running and
  none was received for ``WORKER_STALL_SECONDS`` means it has stopped, whatever
  ``celery inspect ping`` says (the control channel answers while the task consumer is
  wedged);
* writes what it found to ``WORKER_HEARTBEAT_FILE``, which the liveness probe
  (``deploy/healthcheck.py worker``) reads. A probe that finds the file stale (the main
  process is hung) or the worker stalled fails;
* with ``WORKER_STALL_EXIT_SECONDS`` set, makes a worker stalled that long exit, so
  that its supervisor starts a fresh one.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from typing import Any

from celery.signals import task_received
from django.conf import settings

from observability import metrics

logger = logging.getLogger(__name__)


class Watchdog:
    def __init__(
        self,
        *,
        broker_url: str,
        queue_name: str,
        interval: float,
        stall_seconds: float,
        exit_after: float,
        heartbeat_file: str | None,
        redeliver_after: float,
    ) -> None:
        self.broker_url = broker_url
        self.queue_name = queue_name
        self.interval = interval
        self.stall_seconds = stall_seconds
        self.exit_after = exit_after
        self.heartbeat_file = heartbeat_file
        self.redeliver_after = redeliver_after
        self.last_progress = time.monotonic()
        self.stalled_since: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: Any = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="worker-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval + 2)
        self._close()

    def note_progress(self) -> None:
        self.last_progress = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            report: dict[str, Any] = {"at": time.time(), "pid": os.getpid()}
            try:
                report.update(self._sweep())
                report.update(self._check())
            except Exception as error:  # noqa: BLE001 - a broker outage is not a stall
                report["broker"] = f"{type(error).__name__}: {error}"
                self._close()
            self._write(report)
            stalled_for = report.get("stalled_seconds") or 0.0
            if self.exit_after and stalled_for >= self.exit_after:
                logger.critical(
                    "The worker has not consumed for %.0f s with %s messages waiting; exiting "
                    "so that a fresh worker takes over",
                    stalled_for,
                    report.get("backlog"),
                )
                os.kill(os.getpid(), signal.SIGTERM)
                if self._stop.wait(30):
                    return
                os._exit(70)

    def _sweep(self) -> dict[str, Any]:
        from observability.outbox import outbox_for_process
        from observability.sink import batch_announce, broker_connection

        outbox = outbox_for_process(self.broker_url)
        due = outbox.take_due(limit=500, redeliver_after=self.redeliver_after)
        if due:
            if self._connection is None:
                self._connection = broker_connection(self.broker_url)
            for batch_id in due:
                batch_announce(connection=self._connection, batch_id=batch_id)
            metrics.log_batches_redelivered.inc(len(due))
            logger.info("Announced %d due execution-log batches again", len(due))
        state = outbox.state()
        return {
            "broker": "ok",
            "outbox_batches": state.batches,
            "oldest_due_seconds": state.oldest_due_seconds,
            "redelivered": len(due),
        }

    def _check(self) -> dict[str, Any]:
        from celery.worker import state

        from observability.outbox import outbox_for_process

        backlog = int(outbox_for_process(self.broker_url).client.llen(self.queue_name))
        now = time.monotonic()
        if state.active_requests or backlog == 0:
            self.note_progress()
        idle_for = now - self.last_progress
        if idle_for < self.stall_seconds:
            self.stalled_since = None
        elif self.stalled_since is None:
            self.stalled_since = now
            logger.error(
                "The worker has received nothing for %.0f s while %d messages wait",
                idle_for,
                backlog,
            )
        stalled_for = now - self.stalled_since if self.stalled_since is not None else 0.0
        return {"backlog": backlog, "stalled": stalled_for > 0, "stalled_seconds": stalled_for}

    def _write(self, report: dict[str, Any]) -> None:
        if not self.heartbeat_file:
            return
        temporary = f"{self.heartbeat_file}.{os.getpid()}.tmp"
        try:
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump(report, handle)
            os.replace(temporary, self.heartbeat_file)
        except OSError:
            logger.warning("Cannot write the worker heartbeat %s", self.heartbeat_file)

    def _close(self) -> None:
        from observability.sink import close_quietly

        connection, self._connection = self._connection, None
        close_quietly(connection, what="watchdog's broker connection")


_watchdog: Watchdog | None = None


def watchdog_start() -> Watchdog | None:
    """Start this worker's watchdog (``worker_ready``); nothing without a broker."""
    global _watchdog
    if not settings.CELERY_BROKER_URL or _watchdog is not None:
        return _watchdog
    from celery import current_app as app

    _watchdog = Watchdog(
        broker_url=settings.CELERY_BROKER_URL,
        queue_name=app.conf.task_default_queue,
        interval=settings.WORKER_WATCHDOG_SECONDS,
        stall_seconds=settings.WORKER_STALL_SECONDS,
        exit_after=settings.WORKER_STALL_EXIT_SECONDS,
        heartbeat_file=settings.WORKER_HEARTBEAT_FILE,
        redeliver_after=settings.DSL_EXECUTION_LOG_REDELIVER_SECONDS,
    )
    _watchdog.start()
    return _watchdog


def watchdog_stop() -> None:
    global _watchdog
    watchdog, _watchdog = _watchdog, None
    if watchdog is not None:
        watchdog.stop()


@task_received.connect
def _task_received(**_: Any) -> None:
    if _watchdog is not None:
        _watchdog.note_progress()
