"""Webhook deliveries end to end: a real Celery worker (with its beat) on the test Redis and
database, posting to a real HTTP receiver in a thread of the test."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import AlwaysEagerIgnored
from django.db import connection, transaction

from gamification.models import WebhookAttempt, WebhookMessage
from gamification.webhook_kick import DeliveryKicker
from gamification.webhooks import (
    webhook_deliveries_send,
    webhook_kicker_set,
    webhook_next_due_seconds,
)
from tests.factories import GameFactory, TaskFactory
from tests.observability.conftest import Worker, test_database_url, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

AWARD_URL = "/api/v1/games/g1/tasks/t1/points"


class Rollback(Exception):
    """Raised to roll a transaction back."""


def standard_webhooks_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Verify a delivery as a receiver would (the README's snippet, written out here)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, candidate.removeprefix("v1,"))
        for candidate in headers["webhook-signature"].split()
        if candidate.startswith("v1,")
    )


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP server that records every request and answers as scripted."""

    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    #: Statuses answered in turn; 200 once they run out.
    answers: list[int] = field(default_factory=list)
    #: Set: the next request waits on ``release`` before it answers.
    hang_next: bool = False
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(
                Received(
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                    at=time.time(),
                )
            )
            if state.hang_next:
                state.hang_next = False
                state.release.wait(60)
                return
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", f"{state.url}/redirected")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = Receiver(server=server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is unset: run under .ci/with-services for Redis tests")
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


#: The worker's settings: small backoffs, a sweep twice a second, a short lease.
WORKER_ENV = {
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "WEBHOOK_RETRY_MAX_SECONDS": "0.4",
    "WEBHOOK_SWEEP_SECONDS": "0.5",
    "WEBHOOK_TIMEOUT_SECONDS": "4",
    "WEBHOOK_LEASE_SECONDS": "5",
}


@pytest.fixture
def start_worker(redis_url: str, tmp_path: Path) -> Iterator[Any]:
    """Start real Celery workers with an embedded beat (the sweep); stop them after."""
    workers: list[Worker] = []

    def start(**env: str) -> Worker:
        n = len(workers)
        worker = Worker(
            broker_url=redis_url,
            database_url=test_database_url(),
            log=tmp_path / f"worker-{n}.log",
            args=("--beat", f"--schedule={tmp_path / f'beat-{n}'}"),
            **{**WORKER_ENV, **env},
        )
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()
    connection.close()


@pytest.fixture
def kicker(redis_url: str) -> Iterator[DeliveryKicker]:
    """This process's kicker, publishing to the test Redis as a web process would."""
    installed = DeliveryKicker(
        broker_url=redis_url,
        send=webhook_deliveries_send,
        next_due_seconds=webhook_next_due_seconds,
        sweep_seconds=0.5,
    )
    previous = webhook_kicker_set(installed)
    with warnings.catch_warnings():
        # The test settings keep Celery eager; the kicker's messages go to Redis all the same.
        warnings.simplefilter("ignore", AlwaysEagerIgnored)
        yield installed
    installed.shutdown()
    webhook_kicker_set(previous)


@pytest.fixture(autouse=True)
def _private_receiver_allowed(settings) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def task(realm):
    return TaskFactory(game=GameFactory(realm=realm, external_game_id="g1"), external_task_id="t1")


def _webhook(api, url: str, events: tuple[str, ...] = ("award.created",)) -> dict[str, Any]:
    response = api.post("/api/v1/webhooks", {"url": url, "events": list(events)}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _award(api, user: str = "alice") -> dict[str, Any]:
    response = api.post(AWARD_URL, {"externalUserId": user, "data": {}}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _message() -> WebhookMessage:
    return WebhookMessage.objects.get()


@pytest.mark.usefixtures("task", "kicker")
def test_an_award_is_delivered_signed_as_standard_webhooks_says(api, receiver, start_worker):
    start_worker()
    webhook = _webhook(api, f"{receiver.url}/hooks?realm=acme")

    award = _award(api)

    assert wait_for(lambda: len(receiver.requests) == 1, timeout=30)
    delivery = receiver.requests[0]
    message = _message()
    assert delivery.path == "/hooks?realm=acme"
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["webhook-id"] == f"msg_{message.event_id.hex}"
    assert abs(int(delivery.headers["webhook-timestamp"]) - time.time()) < 60
    assert standard_webhooks_verify(webhook["secret"], delivery.headers, delivery.body)
    assert not standard_webhooks_verify(webhook["secret"], delivery.headers, delivery.body + b" ")
    assert delivery.json()["type"] == "award.created"
    assert delivery.json()["data"]["awardId"] == award["awardId"]
    assert wait_for(lambda: _message().status == "delivered", timeout=10)
    message = _message()
    assert (message.attempts, message.last_status_code) == (1, 200)
    assert (message.last_latency_ms or 0) > 0
    attempt = WebhookAttempt.objects.get()
    assert (attempt.delivered, attempt.status_code, attempt.response_excerpt) == (True, 200, "ok")


@pytest.mark.usefixtures("task", "kicker")
def test_a_failing_receiver_is_retried_with_the_same_id_until_it_recovers(
    api, receiver, start_worker
):
    start_worker()
    webhook = _webhook(api, f"{receiver.url}/flaky")
    receiver.answers = [500, 500, 503]

    _award(api)

    assert wait_for(lambda: _message().status == "delivered", timeout=30)
    assert len(receiver.requests) == 4
    assert len({request.headers["webhook-id"] for request in receiver.requests}) == 1
    assert len({request.body for request in receiver.requests}) == 1
    assert all(
        standard_webhooks_verify(webhook["secret"], request.headers, request.body)
        for request in receiver.requests
    )
    gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert min(gaps) >= 0.1, gaps  # the backoff's floor: half of 0.2 s
    statuses = list(WebhookAttempt.objects.order_by("attempted_at").values_list("status_code"))
    assert statuses == [(500,), (500,), (503,), (200,)]
    assert _message().attempts == 4


@pytest.mark.usefixtures("task", "kicker")
def test_a_receiver_that_never_recovers_is_given_up_when_the_window_closes(
    api, receiver, start_worker, settings
):
    settings.WEBHOOK_RETRY_WINDOW_SECONDS = 2  # the window is the event's, set when written
    start_worker()
    _webhook(api, f"{receiver.url}/down")
    receiver.answers = [500] * 1000

    _award(api)

    assert wait_for(lambda: _message().status == "failed", timeout=30)
    message = _message()
    attempts = WebhookAttempt.objects.filter(message=message).count()
    assert attempts == message.attempts >= 3
    assert message.last_status_code == 500
    time.sleep(1)
    assert len(receiver.requests) == attempts, "nothing is sent once it failed"


@pytest.mark.usefixtures("task", "kicker")
def test_a_rolled_back_award_sends_nothing(api, receiver, start_worker):
    start_worker()
    _webhook(api, f"{receiver.url}/awards")

    rolled_back: dict[str, Any] = {}
    with contextlib.suppress(Rollback), transaction.atomic():
        rolled_back = _award(api, "ghost")
        raise Rollback  # the caller's transaction fails after the award
    committed = _award(api, "alice")

    assert wait_for(lambda: len(receiver.requests) >= 1, timeout=30)
    time.sleep(1.5)  # three sweeps: anything else would have been sent by now
    sent = [request.json()["data"]["awardId"] for request in receiver.requests]
    assert sent == [committed["awardId"]]
    assert rolled_back["awardId"] not in sent
    assert WebhookMessage.objects.count() == 1


@pytest.mark.usefixtures("task", "kicker")
def test_nothing_is_sent_to_a_deleted_webhook(api, receiver, start_worker):
    deleted = _webhook(api, f"{receiver.url}/deleted")
    _award(api, "before")  # pending: no worker runs yet
    assert api.delete(f"/api/v1/webhooks/{deleted['id']}").status_code == 204
    _award(api, "after")
    sentinel = _webhook(api, f"{receiver.url}/sentinel", events=("strategy.archived",))

    start_worker()
    assert api.post(f"/api/v1/webhooks/{sentinel['id']}/test").status_code == 202

    assert wait_for(lambda: "/sentinel" in receiver.paths(), timeout=30)
    time.sleep(1)
    assert receiver.paths() == ["/sentinel"]
    assert receiver.requests[0].json()["type"] == "webhook.test"


@pytest.mark.usefixtures("task", "kicker")
def test_a_url_that_now_reaches_a_private_address_is_refused_at_delivery(
    api, receiver, start_worker
):
    """Created while private addresses were allowed; the worker does not allow them: as if the
    name had been pointed at the private network since."""
    start_worker(WEBHOOK_ALLOW_PRIVATE="false")
    _webhook(api, f"{receiver.url}/internal")

    _award(api)

    assert wait_for(lambda: WebhookAttempt.objects.count() >= 2, timeout=30)
    attempt = WebhookAttempt.objects.order_by("attempted_at").first()
    assert attempt is not None
    assert (attempt.delivered, attempt.status_code) == (False, None)
    assert attempt.error.startswith("WEBHOOK_URL_FORBIDDEN")
    assert "127.0.0.1" in attempt.error
    assert receiver.requests == []
    assert _message().status == "pending"


@pytest.mark.usefixtures("task", "kicker")
def test_a_worker_killed_mid_delivery_loses_nothing(api, receiver, start_worker):
    first = start_worker()
    webhook = _webhook(api, f"{receiver.url}/slow")
    receiver.hang_next = True

    _award(api)
    assert wait_for(lambda: len(receiver.requests) == 1, timeout=30, interval=0.02)
    first.kill()
    receiver.release.set()
    claimed = _message()
    assert (claimed.status, claimed.attempts) == ("pending", 1)
    assert claimed.lease is not None

    start_worker()

    assert wait_for(lambda: _message().status == "delivered", timeout=30)
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    assert standard_webhooks_verify(
        webhook["secret"], receiver.requests[1].headers, receiver.requests[1].body
    )
    assert _message().attempts == 2
    # The killed attempt left no record; the one that delivered did.
    assert list(WebhookAttempt.objects.values_list("status_code", flat=True)) == [200]


def _refused_broker() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"redis://127.0.0.1:{port}/0"


@pytest.mark.usefixtures("task")
def test_with_the_broker_down_for_the_web_the_sweep_delivers(api, receiver, start_worker, kicker):
    kicker.broker_url = _refused_broker()
    start_worker()
    _webhook(api, f"{receiver.url}/late")

    started = time.monotonic()
    award = _award(api)
    answered_in = time.monotonic() - started

    assert answered_in < 1.0
    assert wait_for(lambda: kicker.failures >= 1, timeout=10)
    assert wait_for(lambda: len(receiver.requests) == 1, timeout=30)
    assert receiver.requests[0].json()["data"]["awardId"] == award["awardId"]
    assert kicker.published == 0


@pytest.mark.usefixtures("task")
def test_without_a_broker_the_process_delivers_and_retries_itself(api, receiver, settings):
    """The demo: no broker, no worker; the kicker's thread sends off the request thread."""
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0.2
    settings.WEBHOOK_RETRY_MAX_SECONDS = 0.4
    in_process = DeliveryKicker(
        broker_url=None,
        send=webhook_deliveries_send,
        next_due_seconds=webhook_next_due_seconds,
        sweep_seconds=5,
    )
    previous = webhook_kicker_set(in_process)
    try:
        webhook = _webhook(api, f"{receiver.url}/demo")
        receiver.answers = [502]

        _award(api)

        assert wait_for(lambda: _message().status == "delivered", timeout=30)
    finally:
        in_process.shutdown()
        webhook_kicker_set(previous)
    assert [a.status_code for a in WebhookAttempt.objects.order_by("attempted_at")] == [502, 200]
    assert all(
        standard_webhooks_verify(webhook["secret"], r.headers, r.body) for r in receiver.requests
    )


@pytest.mark.usefixtures("task")
def test_redirects_are_not_followed(api, receiver):
    _webhook(api, f"{receiver.url}/moved")
    receiver.answers = [302]
    _award(api)

    assert webhook_deliveries_send(budget_seconds=5) == 1

    assert receiver.paths() == ["/moved"]
    attempt = WebhookAttempt.objects.get()
    assert (attempt.delivered, attempt.status_code) == (False, 302)
    assert _message().status == "pending"


@pytest.mark.usefixtures("task")
def test_the_host_header_names_the_url_while_the_checked_address_is_connected(api, receiver):
    port = receiver.server.server_address[1]
    _webhook(api, f"http://localhost:{port}/named")
    _award(api)

    assert webhook_deliveries_send(budget_seconds=5) == 1

    assert receiver.requests[0].headers["host"] == f"localhost:{port}"
    assert receiver.requests[0].headers["user-agent"].startswith("gamification-webhooks/")


@pytest.mark.usefixtures("task")
def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(api, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    _webhook(api, f"{receiver.url}/silent")
    receiver.hang_next = True
    _award(api)

    started = time.monotonic()
    assert webhook_deliveries_send(budget_seconds=5) == 1

    assert time.monotonic() - started < 3
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("timeout")
    assert _message().status == "pending"
