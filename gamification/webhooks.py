"""Webhooks: a realm's endpoints, the events written to their outbox, and their delivery.

An event is written to the outbox (``WebhookMessage``, one row per subscribed endpoint) in
the transaction of what caused it, so a rolled-back award sends nothing and a committed one
is never lost. ``webhook_event_emit`` is the one way in for every event but the award's,
which the award's own write statement inserts (``scoring.sql.webhook_outbox_cte``).

Delivery follows Standard Webhooks (https://www.standardwebhooks.com): the body
``{"type", "timestamp", "data"}``, and the headers ``webhook-id`` (the event's, the same on
every attempt), ``webhook-timestamp`` (the attempt's) and ``webhook-signature``. A worker
claims one due message at a time (``FOR UPDATE SKIP LOCKED``), moves it out of sight for a
lease, posts it outside any transaction, then records the attempt and either marks the
message delivered or due again after an exponential backoff with jitter, until its retry
window closes and it is marked failed.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from gamification import webhook_http
from gamification.errors import ConflictError, DomainError, NotFoundError
from gamification.ids import uuid7
from gamification.models import (
    WEBHOOK_TEST_EVENT,
    Award,
    Realm,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookEventType,
    WebhookMessage,
    WebhookMessageStatus,
    webhook_id_of,
)
from gamification.webhook_kick import DeliveryKicker, Kicker

#: The types an endpoint may subscribe to, in the order the API lists them.
EVENT_TYPES: tuple[str, ...] = tuple(WebhookEventType.values)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One event as every endpoint receives it: its id, type, time and exact body."""

    id: uuid.UUID
    type: str
    created_at: datetime
    expires_at: datetime
    body: str


def webhook_event_build(
    *, type: str, data: Mapping[str, Any], at: datetime | None = None
) -> WebhookEvent:
    """Return the event ``type`` with ``data`` (its wire form: camelCase JSON) at ``at``."""
    assert type in EVENT_TYPES or type == WEBHOOK_TEST_EVENT, f"{type!r} is no event type"
    at = at or timezone.now()
    body = json.dumps(
        {"type": type, "timestamp": _iso(at), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )
    return WebhookEvent(
        id=uuid7(),
        type=type,
        created_at=at,
        expires_at=at + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS),
        body=body,
    )


def webhook_event_emit(
    *, realm: Realm, type: str, data: Mapping[str, Any], at: datetime | None = None
) -> int:
    """Write event ``type`` to the outbox of every endpoint of ``realm`` subscribed to it.

    Call it inside the transaction of what the event reports: the rows commit or roll back
    with it, and deliveries are asked for once it has committed. Returns the rows written.
    """
    return webhook_event_store(
        realm_id=realm.pk, event=webhook_event_build(type=type, data=data, at=at)
    )


def webhook_event_store(*, realm_id: int, event: WebhookEvent) -> int:
    """Write an event built before to the outbox of the realm's subscribed endpoints."""
    endpoint_ids = [
        pk
        for pk, events in WebhookEndpoint.objects.filter(realm_id=realm_id).values_list(
            "pk", "events"
        )
        if event.type in events
    ]
    if not endpoint_ids:
        return 0
    WebhookMessage.objects.bulk_create(
        [_message(event=event, endpoint_id=endpoint_id) for endpoint_id in endpoint_ids]
    )
    transaction.on_commit(webhook_delivery_kick)
    return len(endpoint_ids)


def _message(*, event: WebhookEvent, endpoint_id: uuid.UUID) -> WebhookMessage:
    return WebhookMessage(
        event_id=event.id,
        endpoint_id=endpoint_id,
        event_type=event.type,
        body=event.body,
        next_attempt_at=event.created_at,
        expires_at=event.expires_at,
        created_at=event.created_at,
    )


def award_created_data(
    *,
    award: Award,
    external_game_id: str,
    external_task_id: str,
    external_user_id: str,
    player_created: bool,
) -> dict[str, Any]:
    """Return the ``data`` of ``award.created``: the award as the game server knows it."""
    return {
        "awardId": str(award.pk),
        "externalGameId": external_game_id,
        "externalTaskId": external_task_id,
        "externalUserId": external_user_id,
        "playerCreated": player_created,
        "points": award.points,
        "caseName": award.case_name,
        "callbackData": award.callback_data,
        "strategyId": award.strategy_id,
        "strategyVersion": award.strategy_version,
        "idempotencyKey": award.idempotency_key,
        "createdAt": _iso(award.created_at),
    }


# -- endpoints ------------------------------------------------------------------------------


def _events_check(events: Iterable[str]) -> list[str]:
    wanted = set(events)
    unknown = sorted(wanted - set(EVENT_TYPES))
    if unknown:
        raise DomainError(
            f"Unknown event types: {', '.join(unknown)}.",
            code="WEBHOOK_EVENT_UNKNOWN",
            field="events",
            known=list(EVENT_TYPES),
        )
    if not wanted:
        raise DomainError(
            "Subscribe to at least one event type.", code="WEBHOOK_EVENTS_EMPTY", field="events"
        )
    return [event_type for event_type in EVENT_TYPES if event_type in wanted]


def webhook_url_check(*, url: str) -> str:
    """Refuse an URL deliveries may not go to: not http(s), or (unless
    ``WEBHOOK_ALLOW_PRIVATE``) a host that does not resolve or resolves to an address that is
    not public. Delivery checks the address again: DNS can change."""
    try:
        if settings.WEBHOOK_ALLOW_PRIVATE:
            webhook_http.url_parse(url)
        else:
            webhook_http.url_resolve(url, allow_private=False)
    except webhook_http.WebhookUrlError as error:
        raise DomainError(error.detail, code=error.code, field="url") from None
    return url


def webhook_endpoint_create(*, realm: Realm, url: str, events: Iterable[str]) -> WebhookEndpoint:
    """Create an endpoint with a new signing secret (``endpoint.secret``: show it once)."""
    event_types = _events_check(events)
    webhook_url_check(url=url)
    with transaction.atomic():
        # Counting under a lock keeps concurrent creates within the limit; NO KEY UPDATE does
        # not wait for (or block) the awards that reference the realm.
        Realm.objects.select_for_update(no_key=True).filter(pk=realm.pk).first()
        if WebhookEndpoint.objects.filter(realm=realm).count() >= (
            settings.WEBHOOK_ENDPOINTS_PER_REALM
        ):
            raise ConflictError(
                f"A realm has at most {settings.WEBHOOK_ENDPOINTS_PER_REALM} webhooks.",
                code="WEBHOOK_LIMIT_REACHED",
            )
        return WebhookEndpoint.objects.create(
            realm=realm,
            url=url,
            events=event_types,
            secret=webhook_http.secret_new(),
        )


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint with its pending and past deliveries: nothing more is sent to it.

    A delivery already on the wire when this commits may still arrive.
    """
    endpoint.delete()


def webhook_endpoint_list(*, realm: Realm) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(realm=realm).order_by("created_at", "id")


def webhook_endpoint_get(*, realm: Realm, endpoint_id: str) -> WebhookEndpoint:
    """Return the endpoint of ``realm`` by id; a malformed id or another realm's is a 404."""
    try:
        pk = uuid.UUID(str(endpoint_id))
    except ValueError:
        pk = None
    endpoint = WebhookEndpoint.objects.filter(pk=pk, realm=realm).first() if pk else None
    if endpoint is None:
        raise NotFoundError(f"No webhook {endpoint_id!r}.", code="WEBHOOK_NOT_FOUND")
    return endpoint


def webhook_test_send(*, endpoint: WebhookEndpoint) -> WebhookMessage:
    """Queue a ``webhook.test`` delivery to ``endpoint`` alone, whatever it subscribed to."""
    event = webhook_event_build(
        type=WEBHOOK_TEST_EVENT,
        data={"webhookId": str(endpoint.pk), "url": endpoint.url},
    )
    message = _message(event=event, endpoint_id=endpoint.pk)
    message.save(force_insert=True)
    transaction.on_commit(webhook_delivery_kick)
    return message


def webhook_message_redeliver(*, message: WebhookMessage) -> None:
    """Make a message due now with a fresh retry window, whatever became of it."""
    now = timezone.now()
    WebhookMessage.objects.filter(pk=message.pk).update(
        status=WebhookMessageStatus.PENDING,
        next_attempt_at=now,
        expires_at=now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS),
        lease=None,
    )
    transaction.on_commit(webhook_delivery_kick)


# -- delivery -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    """A message taken for one attempt, with what the attempt needs."""

    message_id: int
    lease: uuid.UUID
    webhook_id: str
    url: str
    secret: str
    body: str


def webhook_message_claim() -> Claim | None:
    """Take the message due first for one attempt; None when nothing is due.

    Locked rows are skipped (another worker has them), so workers never wait on each other.
    The claim moves the message's due time a lease ahead: should this worker die before it
    records the outcome, the message is due again then, and another worker sends it again.
    A message whose retry window closed meanwhile is marked failed instead.
    """
    while True:
        now = timezone.now()
        with transaction.atomic():
            message = (
                WebhookMessage.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("endpoint")
                .filter(status=WebhookMessageStatus.PENDING, next_attempt_at__lte=now)
                .order_by("next_attempt_at")
                .first()
            )
            if message is None:
                return None
            if message.expires_at <= now:
                message.status = WebhookMessageStatus.FAILED
                message.lease = None
                message.last_error = "The retry window closed before another attempt."
                message.save(update_fields=["status", "lease", "last_error"])
                continue
            message.lease = uuid.uuid4()
            message.attempts += 1
            message.next_attempt_at = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
            message.save(update_fields=["lease", "attempts", "next_attempt_at"])
            return Claim(
                message_id=message.pk,
                lease=message.lease,
                webhook_id=webhook_id_of(message.event_id),
                url=message.endpoint.url,
                secret=message.endpoint.secret,
                body=message.body,
            )


def webhook_retry_delay(*, attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` ones: exponential, with jitter.

    The base doubles with each attempt up to ``WEBHOOK_RETRY_MAX_SECONDS``; a random half of
    it is taken off, so receivers that came back are not hit by every backlog at once.
    """
    ceiling = min(
        settings.WEBHOOK_RETRY_MAX_SECONDS,
        settings.WEBHOOK_RETRY_BASE_SECONDS * 2.0 ** min(max(attempts - 1, 0), 40),
    )
    return ceiling * random.uniform(0.5, 1.0)


def webhook_claim_deliver(*, claim: Claim) -> webhook_http.PostResult:
    """Sign and POST a claimed message once, then record what happened."""
    attempted_at = timezone.now()
    timestamp = int(time.time())
    body = claim.body.encode()
    result = webhook_http.post(
        url=claim.url,
        body=body,
        headers={
            "webhook-id": claim.webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": webhook_http.signature(
                secret=claim.secret, webhook_id=claim.webhook_id, timestamp=timestamp, body=body
            ),
        },
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        allow_private=settings.WEBHOOK_ALLOW_PRIVATE,
    )
    webhook_attempt_record(claim=claim, result=result, attempted_at=attempted_at)
    return result


def webhook_attempt_record(
    *, claim: Claim, result: webhook_http.PostResult, attempted_at: datetime
) -> None:
    """Record an attempt; the message changes only while the claim still holds its lease.

    A message deleted meanwhile (its endpoint was) records nothing. A claim whose lease ran
    out and was taken over by another worker records its attempt but leaves the message to
    the newer claim.
    """
    now = timezone.now()
    with transaction.atomic():
        message = WebhookMessage.objects.select_for_update().filter(pk=claim.message_id).first()
        if message is None:
            return
        WebhookAttempt.objects.create(
            message=message,
            attempted_at=attempted_at,
            delivered=result.delivered,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error[:500],
            response_excerpt=result.response_excerpt[:500],
        )
        if message.lease != claim.lease:
            return
        message.lease = None
        message.last_status_code = result.status_code
        message.last_latency_ms = result.latency_ms
        message.last_error = result.error[:500] or None
        if result.delivered:
            message.status = WebhookMessageStatus.DELIVERED
            message.delivered_at = now
        else:
            retry_at = now + timedelta(seconds=webhook_retry_delay(attempts=message.attempts))
            if retry_at >= message.expires_at:
                message.status = WebhookMessageStatus.FAILED
            else:
                message.next_attempt_at = retry_at
        message.save(
            update_fields=[
                "lease",
                "last_status_code",
                "last_latency_ms",
                "last_error",
                "status",
                "delivered_at",
                "next_attempt_at",
            ]
        )


def webhook_deliveries_send(*, budget_seconds: float | None = None) -> int:
    """Send due messages one after the other for up to ``budget_seconds`` (default
    ``WEBHOOK_TASK_SECONDS``); return how many attempts were made. Safe to run anywhere at
    once: each message is claimed by one caller."""
    deadline = time.monotonic() + (
        budget_seconds if budget_seconds is not None else settings.WEBHOOK_TASK_SECONDS
    )
    attempts = 0
    while time.monotonic() < deadline:
        claim = webhook_message_claim()
        if claim is None:
            break
        webhook_claim_deliver(claim=claim)
        attempts += 1
    return attempts


def webhook_next_due_seconds() -> float | None:
    """Seconds until the first pending message is due (0 if it is); None if none is pending."""
    first = (
        WebhookMessage.objects.filter(status=WebhookMessageStatus.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if first is None:
        return None
    return max(0.0, (first - timezone.now()).total_seconds())


# -- asking for deliveries ------------------------------------------------------------------

_kicker: Kicker | None = None
_kicker_lock = threading.Lock()


def webhook_kicker() -> Kicker:
    """This process's kicker, made on first use from the settings."""
    global _kicker
    if _kicker is None:
        with _kicker_lock:
            if _kicker is None:
                _kicker = DeliveryKicker(
                    broker_url=settings.CELERY_BROKER_URL,
                    send=webhook_deliveries_send,
                    next_due_seconds=webhook_next_due_seconds,
                    sweep_seconds=settings.WEBHOOK_SWEEP_SECONDS,
                )
    return _kicker


def webhook_kicker_set(kicker: Kicker | None) -> Kicker | None:
    """Install ``kicker`` (None: the one made from the settings); return the previous one."""
    global _kicker
    previous, _kicker = _kicker, kicker
    return previous


def webhook_delivery_kick() -> None:
    """Ask for due deliveries to be sent soon (an ``on_commit`` callback; never blocks)."""
    webhook_kicker().kick()
