"""Webhooks in the admin: each realm's operators see its endpoints and deliveries, and only
theirs, and may send a delivery again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from gamification.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from gamification.webhooks import webhook_endpoint_create, webhook_event_emit
from tests.factories import RealmFactory, is_missing, member_client

pytestmark = pytest.mark.django_db

MESSAGES = "admin:gamification_webhookmessage"
ENDPOINTS = "admin:gamification_webhookendpoint"


def _realm_with_a_failed_delivery(slug: str) -> tuple[WebhookEndpoint, WebhookMessage]:
    realm = RealmFactory(slug=slug)
    endpoint = webhook_endpoint_create(
        realm=realm, url=f"https://93.184.215.14/{slug}", events=["strategy.published"]
    )
    webhook_event_emit(realm=realm, type="strategy.published", data={"name": f"of-{slug}"})
    message = WebhookMessage.objects.get(endpoint=endpoint)
    now = timezone.now()
    WebhookAttempt.objects.create(
        message=message,
        attempted_at=now,
        delivered=False,
        status_code=503,
        latency_ms=812.4,
        response_excerpt=f"busy-{slug}",
    )
    WebhookMessage.objects.filter(pk=message.pk).update(
        status="failed",
        attempts=7,
        last_status_code=503,
        last_latency_ms=812.4,
        next_attempt_at=now - timedelta(hours=1),
    )
    message.refresh_from_db()
    return endpoint, message


@pytest.fixture
def a():
    return _realm_with_a_failed_delivery("realm-a")


@pytest.fixture
def b():
    return _realm_with_a_failed_delivery("realm-b")


def _operator(endpoint: WebhookEndpoint):
    return member_client(f"operator-{endpoint.realm.slug}", endpoint.realm, "operator")


@pytest.mark.usefixtures("b")
def test_an_operator_reads_the_deliveries_of_an_endpoint_of_their_realm(a):
    endpoint, message = a
    client = _operator(endpoint)

    listing = client.get(reverse(f"{MESSAGES}_changelist"), {"endpoint": str(endpoint.pk)})
    detail = client.get(reverse(f"{MESSAGES}_change", args=[message.pk]))
    endpoint_page = client.get(reverse(f"{ENDPOINTS}_change", args=[endpoint.pk]))

    assert listing.status_code == 200
    page = listing.content.decode()
    for shown in ("strategy.published", "Failed", "503", "812"):
        assert shown in page
    assert "realm-b" not in page
    assert detail.status_code == 200
    assert "busy-realm-a" in detail.content.decode()
    assert message.webhook_id in detail.content.decode()
    assert "of-realm-a" in detail.content.decode()
    assert endpoint_page.status_code == 200
    assert endpoint.secret not in endpoint_page.content.decode()
    assert "Deliveries" in endpoint_page.content.decode()


def test_another_realms_endpoints_and_deliveries_look_missing(a, b):
    client = _operator(b[0])
    endpoint, message = a

    for page in (
        reverse(f"{MESSAGES}_change", args=[message.pk]),
        reverse(f"{ENDPOINTS}_change", args=[endpoint.pk]),
        reverse(f"{ENDPOINTS}_delete", args=[endpoint.pk]),
    ):
        assert is_missing(client.get(page)), page
    listing = client.get(reverse(f"{MESSAGES}_changelist")).content.decode()
    assert "realm-b" in listing
    assert "realm-a" not in listing
    filtered = client.get(reverse(f"{MESSAGES}_changelist"), {"endpoint": str(endpoint.pk)})
    assert "realm-a" not in filtered.content.decode()
    assert "realm-a" not in client.get(reverse(f"{ENDPOINTS}_changelist")).content.decode()


def test_redeliver_sends_again_only_what_the_operator_may_touch(a, b):
    (mine, mine_message), (_, theirs) = b, a
    client = _operator(mine)

    response = client.post(
        reverse(f"{MESSAGES}_changelist"),
        {"action": "redeliver", "_selected_action": [mine_message.pk, theirs.pk]},
    )

    assert response.status_code == 302
    mine_message.refresh_from_db()
    theirs.refresh_from_db()
    assert mine_message.status == "pending"
    assert abs((mine_message.next_attempt_at - timezone.now()).total_seconds()) < 5
    assert mine_message.expires_at > timezone.now() + timedelta(hours=23)
    assert mine_message.attempts == 7, "the history stays"
    assert theirs.status == "failed"


def test_a_designer_reads_no_webhook(a):
    endpoint, message = a
    client = member_client("designer-a", endpoint.realm, "designer")

    assert client.get(reverse(f"{MESSAGES}_changelist")).status_code == 403
    assert client.get(reverse(f"{ENDPOINTS}_changelist")).status_code == 403
    response = client.post(
        reverse(f"{MESSAGES}_changelist"),
        {"action": "redeliver", "_selected_action": [message.pk]},
    )
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == "failed"


def test_an_operator_deletes_an_endpoint_of_their_realm_with_its_deliveries(a, b):
    endpoint, _ = a
    client = _operator(endpoint)

    response = client.post(reverse(f"{ENDPOINTS}_delete", args=[endpoint.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookMessage.objects.filter(endpoint_id=endpoint.pk).exists()
    assert WebhookMessage.objects.filter(endpoint=b[0]).count() == 1


def test_deliveries_cannot_be_added_changed_or_deleted(a):
    endpoint, message = a
    client = _operator(endpoint)

    page = client.get(reverse(f"{MESSAGES}_change", args=[message.pk])).content.decode()
    posted = client.post(reverse(f"{MESSAGES}_change", args=[message.pk]), {"status": "delivered"})

    assert 'name="_save"' not in page
    assert client.get(reverse(f"{MESSAGES}_add")).status_code == 403
    assert posted.status_code == 403
    assert client.get(reverse(f"{MESSAGES}_delete", args=[message.pk])).status_code == 403
    message.refresh_from_db()
    assert message.status == "failed"
