"""The raw SQL of webhooks in the award's read and write, names read from the models.

The award read asks ``webhook_subscribed`` for each event it may emit (its event source is
named ``event``); the award write adds an ``webhook_outbox_insert`` CTE for each event someone
listens to: the award's own (``scoring.sql``) and those of achievements.
"""

from __future__ import annotations

import json

from gamification.models import (
    WebhookEndpoint,
    WebhookEventType,
    WebhookMessage,
    WebhookMessageStatus,
)
from gamification.sql import column

#: The outbox columns ``webhook_outbox_insert`` writes, in order.
WEBHOOK_OUTBOX_FIELDS = (
    "event_id",
    "endpoint",
    "event_type",
    "body",
    "status",
    "attempts",
    "next_attempt_at",
    "expires_at",
    "created_at",
)


def webhook_subscribed(event_type: str, vendor: str) -> str:
    """Return a boolean column: whether the event's realm has an endpoint for ``event_type``.

    The award read asks it so that the write adds its outbox CTE only when someone listens:
    in the same statement it is exact (an endpoint is heard from from the next award on, a
    deleted one at once), where a per-process cache would miss events for its TTL. It is one
    probe of a realm's few endpoint rows by the realm's index.
    """
    endpoint = WebhookEndpoint._meta.db_table
    realm, events = column(WebhookEndpoint, "realm"), column(WebhookEndpoint, "events")
    assert event_type in WebhookEventType.values, "a literal of the statement, never input"
    if vendor == "postgresql":
        return (
            f"EXISTS (SELECT 1 FROM {endpoint} we WHERE we.{realm} = event.realm_id "
            f"AND we.{events} @> '{json.dumps([event_type])}'::jsonb)"
        )
    return (
        f"EXISTS (SELECT 1 FROM {endpoint} we, json_each(we.{events}) subscribed "
        f"WHERE we.{realm} = event.realm_id AND subscribed.value = '{event_type}')"
    )


def webhook_outbox_insert(
    *, name: str, rows: str, event_id: str, event_type: str, body: str, subscribed: str
) -> str:
    """Return the CTE ``name``, comma first, that writes an event to the outbox of every
    endpoint of the realm subscribed to it, once per row of ``rows`` (a FROM item).

    ``event_id``, ``event_type``, ``body`` and ``subscribed`` (the JSON array of the event
    type) are SQL expressions: a placeholder, a literal or a column of ``rows``. The
    placeholders after theirs: the first attempt's time, the expiry, the creation time and
    the realm's id.
    """
    outbox, endpoint = WebhookMessage._meta.db_table, WebhookEndpoint._meta.db_table
    columns = [column(WebhookMessage, field) for field in WEBHOOK_OUTBOX_FIELDS]
    e_id, e_realm = column(WebhookEndpoint, "id"), column(WebhookEndpoint, "realm")
    e_events = column(WebhookEndpoint, "events")
    return (
        f", {name} AS (INSERT INTO {outbox} ({', '.join(columns)}) "
        f"SELECT {event_id}, we.{e_id}, {event_type}, {body}, "
        f"'{WebhookMessageStatus.PENDING}', 0, %s, %s, %s "
        f"FROM {rows}, {endpoint} we "
        f"WHERE we.{e_realm} = %s AND we.{e_events} @> {subscribed}::jsonb RETURNING 1)"
    )
