"""Ask for webhook deliveries once a commit wrote some, without ever making the commit wait.

The outbox rows are what matters: the beat's sweep (``WEBHOOK_SWEEP_SECONDS``) sends every
due row whatever happens here. A kick only makes the first attempt sooner. The committing
thread sets an event (microseconds); one daemon thread per process turns kicks into at most
one task message per ``MIN_INTERVAL`` over a broker connection whose every operation is
bounded, and after a failed publish drops kicks for ``CIRCUIT_SECONDS``: a refusing or hung
broker costs an award nothing, and its rows go out with a later sweep.

Without a broker (the demo, where tasks run in-process) the thread sends the deliveries
itself, off the request thread, and wakes up again when the next retry is due.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

logger = logging.getLogger(__name__)

TASK_NAME = "gamification.tasks.webhook_deliveries_send_task"


class Kicker(Protocol):
    def kick(self) -> None:
        """Ask for due deliveries to be sent soon; never blocks, never raises."""
        ...


class DeliveryKicker:
    """The process's kicker: a publisher thread, or the in-process sender of the demo."""

    MIN_INTERVAL = 0.5
    CIRCUIT_SECONDS = 10.0

    def __init__(
        self,
        *,
        broker_url: str | None,
        send: Callable[[], Any],
        next_due_seconds: Callable[[], float | None],
        sweep_seconds: float,
    ) -> None:
        self.broker_url = broker_url
        self._send = send
        self._next_due_seconds = next_due_seconds
        self._sweep_seconds = sweep_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._connection: Any = None
        self.published = 0
        self.failures = 0

    def kick(self) -> None:
        try:
            self._ensure_thread()
            self._wake.set()
        except Exception:
            logger.exception("Cannot start the webhook delivery thread")

    def shutdown(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._close()

    def _ensure_thread(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():  # a forked child inherits neither thread nor socket
                self._pid = os.getpid()
                self._connection = None
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name="webhook-kicker", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        wait: float | None = None
        while not self._stop.is_set():
            self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                break
            if self.broker_url:
                wait = None
                if not self._publish():
                    self._stop.wait(self.CIRCUIT_SECONDS)
                    self._wake.clear()  # the sweep sends what these kicks were for
                    continue
                self._stop.wait(self.MIN_INTERVAL)
            else:
                wait = self._send_in_process()

    def _publish(self) -> bool:
        from celery import current_app as app

        try:
            if self._connection is None:
                options = {**(app.conf.broker_transport_options or {}), "max_retries": 0}
                self._connection = app.connection_for_write(
                    url=self.broker_url, transport_options=options
                )
            app.send_task(TASK_NAME, connection=self._connection, retry=False, ignore_result=True)
        except Exception as error:  # noqa: BLE001 - any broker failure: the sweep delivers
            self.failures += 1
            logger.warning("Cannot ask for webhook deliveries: %s: %s", type(error).__name__, error)
            self._close()
            return False
        self.published += 1
        return True

    def _send_in_process(self) -> float | None:
        """Send what is due; return how long to sleep before the next pending one is due
        (None: nothing is pending, sleep until the next kick)."""
        from django.db import connections

        started = time.monotonic()
        try:
            self._send()
            due_in = self._next_due_seconds()
        except Exception:
            logger.exception("Sending webhook deliveries in-process failed")
            return self._sweep_seconds
        finally:
            connections.close_all()
        self.published += 1
        logger.debug("Webhook deliveries sent in %.3f s", time.monotonic() - started)
        if due_in is None:
            return None
        return min(self._sweep_seconds, max(0.05, due_in))

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                logger.debug("Closing the kicker's broker connection failed", exc_info=True)
