"""The webhooks API: endpoints per realm, validation, SSRF refusal, and the outbox rows events
write (the deliveries themselves are in test_webhooks_delivery.py)."""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import re

import pytest
from django.db import transaction

from gamification.models import WebhookEndpoint, WebhookMessage
from gamification.webhook_http import address_forbidden, signature
from gamification.webhooks import EVENT_TYPES, webhook_endpoint_create, webhook_event_emit
from tests.factories import GameFactory, RealmFactory, TaskFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks"
#: A public address, so that creating needs no DNS.
PUBLIC_URL = "https://93.184.215.14/hooks/gamification"


@pytest.fixture(autouse=True)
def _private_addresses_refused(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False


class Rollback(Exception):
    """Raised to roll a transaction back."""


def _create(api, url: str = PUBLIC_URL, events: list[str] | None = None):
    return api.post(URL, {"url": url, "events": events or ["award.created"]}, format="json")


def test_a_new_webhook_answers_its_signing_secret_once(api, realm):
    created = _create(api, events=["strategy.published", "award.created", "award.created"])

    assert created.status_code == 201, created.json()
    body = created.json()
    assert set(body) == {"id", "url", "events", "createdAt", "secret"}
    assert (body["url"], body["events"]) == (PUBLIC_URL, ["award.created", "strategy.published"])
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]+={0,2}", body["secret"])
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert (endpoint.realm, endpoint.secret) == (realm, body["secret"])
    shown = [api.get(f"{URL}/{body['id']}").json(), *api.get(URL).json()["results"]]
    assert all("secret" not in item and item["id"] == body["id"] for item in shown)
    assert _create(api).json()["secret"] != body["secret"]


def test_the_list_and_every_endpoint_see_only_the_callers_realm(api, other_api):
    mine = _create(api).json()["id"]
    theirs = _create(other_api, events=["strategy.archived"]).json()["id"]

    assert [item["id"] for item in api.get(URL).json()["results"]] == [mine]
    for path in (f"{URL}/{theirs}", f"{URL}/{theirs}/test"):
        method = api.post if path.endswith("/test") else api.get
        response = method(path)
        assert (response.status_code, response.json()["code"]) == (404, "WEBHOOK_NOT_FOUND")
    deleted = api.delete(f"{URL}/{theirs}")
    assert (deleted.status_code, deleted.json()["code"]) == (404, "WEBHOOK_NOT_FOUND")
    assert WebhookEndpoint.objects.filter(pk=theirs).exists()
    assert not WebhookMessage.objects.filter(endpoint_id=theirs).exists()


@pytest.mark.parametrize("webhook_id", ["nope", "0190a5b0-dead-7000-8000-00000000beef", "1"])
def test_an_unknown_or_malformed_id_is_a_404(api, webhook_id):
    response = api.get(f"{URL}/{webhook_id}")
    assert (response.status_code, response.json()["code"]) == (404, "WEBHOOK_NOT_FOUND")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (
            {"url": PUBLIC_URL, "events": ["award.created", "award.deleted"]},
            "WEBHOOK_EVENT_UNKNOWN",
        ),
        ({"url": PUBLIC_URL, "events": ["webhook.test"]}, "WEBHOOK_EVENT_UNKNOWN"),
        ({"url": PUBLIC_URL, "events": []}, "VALIDATION_ERROR"),
        ({"url": PUBLIC_URL, "events": "award.created"}, "VALIDATION_ERROR"),
        ({"url": PUBLIC_URL, "events": [{"type": "award.created"}]}, "VALIDATION_ERROR"),
        ({"events": ["award.created"]}, "VALIDATION_ERROR"),
        ({"url": [PUBLIC_URL], "events": ["award.created"]}, "VALIDATION_ERROR"),
        ({"url": "ftp://93.184.215.14/x", "events": ["award.created"]}, "WEBHOOK_URL_INVALID"),
        ({"url": "93.184.215.14/x", "events": ["award.created"]}, "WEBHOOK_URL_INVALID"),
        ({"url": "https:///x", "events": ["award.created"]}, "WEBHOOK_URL_INVALID"),
        ({"url": "https://u:p@93.184.215.14/", "events": ["award.created"]}, "WEBHOOK_URL_INVALID"),
        (
            {"url": "https://93.184.215.14:99999/", "events": ["award.created"]},
            "WEBHOOK_URL_INVALID",
        ),
        ({"url": "https://93.184.215.14/a b", "events": ["award.created"]}, "WEBHOOK_URL_INVALID"),
        ({"url": " https://93.184.215.14/", "events": ["award.created"]}, "WEBHOOK_URL_INVALID"),
        ({"url": "https://93.184.215.14/#x", "events": ["award.created"]}, "WEBHOOK_URL_INVALID"),
        ({"url": "https://bücher.example/", "events": ["award.created"]}, "WEBHOOK_URL_INVALID"),
        (
            {"url": "https://nowhere.invalid/", "events": ["award.created"]},
            "WEBHOOK_URL_UNRESOLVABLE",
        ),
    ],
)
def test_bad_webhooks_are_refused_with_a_typed_400(api, payload, code):
    response = api.post(URL, payload, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == code
    assert not WebhookEndpoint.objects.exists()


def test_an_unknown_event_is_answered_with_the_known_ones(api):
    body = _create(api, events=["badge.lost"]).json()
    assert (body["field"], body["known"]) == ("events", list(EVENT_TYPES))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0.0.0.0/",
        "http://0/",
        "http://10.0.0.5/",
        "http://172.16.3.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://255.255.255.255/",
        "http://[::1]/",
        "http://[::]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[ff02::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a00:1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:7f00:1::]/",
    ],
)
def test_a_url_that_reaches_no_public_address_is_refused(api, url):
    response = _create(api, url=url)

    assert response.status_code == 400, response.json()
    assert (response.json()["code"], response.json()["field"]) == ("WEBHOOK_URL_FORBIDDEN", "url")
    assert not WebhookEndpoint.objects.exists()


def test_public_addresses_of_both_families_are_accepted(api):
    for url in (PUBLIC_URL, "https://[2606:4700:4700::1111]:8443/hook?realm=acme"):
        assert _create(api, url=url).status_code == 201


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
        ("198.18.0.1", True),
        ("192.0.0.8", True),
        ("2001:db8::1", True),
        ("::ffff:8.8.8.8", True),
        ("ff0e::1", True),
        ("224.0.1.1", True),
    ],
)
def test_only_public_unicast_addresses_may_be_reached(address, forbidden):
    assert address_forbidden(ipaddress.ip_address(address)) is forbidden


def test_private_addresses_are_allowed_when_the_setting_says_so(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert _create(api, url="http://127.0.0.1:9/hook").status_code == 201
    assert _create(api, url="http://receiver.internal/hook").status_code == 201


def test_a_realm_has_a_bounded_number_of_webhooks(api, settings):
    settings.WEBHOOK_ENDPOINTS_PER_REALM = 2
    assert [_create(api).status_code for _ in range(2)] == [201, 201]

    refused = _create(api)

    assert (refused.status_code, refused.json()["code"]) == (409, "WEBHOOK_LIMIT_REACHED")
    assert WebhookEndpoint.objects.count() == 2


def test_the_test_action_queues_a_test_delivery_and_asks_for_it_on_commit(
    api, webhook_kicks, django_capture_on_commit_callbacks
):
    endpoint = _create(api, events=["strategy.archived"]).json()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{URL}/{endpoint['id']}/test")

    assert response.status_code == 202, response.json()
    message = WebhookMessage.objects.get(endpoint_id=endpoint["id"])
    assert response.json() == {
        "webhookId": f"msg_{message.event_id.hex}",
        "type": "webhook.test",
        "status": "pending",
    }
    body = json.loads(message.body)
    assert body["type"] == "webhook.test"
    assert body["data"] == {"webhookId": endpoint["id"], "url": PUBLIC_URL}
    assert webhook_kicks.kicks == 1


def test_deleting_a_webhook_deletes_its_pending_deliveries(api):
    endpoint = _create(api).json()["id"]
    api.post(f"{URL}/{endpoint}/test")
    assert WebhookMessage.objects.filter(endpoint_id=endpoint).count() == 1

    response = api.delete(f"{URL}/{endpoint}")

    assert response.status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint).exists()
    assert not WebhookMessage.objects.exists()
    assert api.get(f"{URL}/{endpoint}").status_code == 404


def _endpoint(realm, *events: str) -> WebhookEndpoint:
    return webhook_endpoint_create(realm=realm, url=PUBLIC_URL, events=events)


def test_an_event_is_written_for_each_subscribed_endpoint_of_its_realm_only(
    realm, webhook_kicks, django_capture_on_commit_callbacks
):
    both = _endpoint(realm, "award.created", "strategy.published")
    published = _endpoint(realm, "strategy.published")
    _endpoint(realm, "strategy.archived")
    _endpoint(RealmFactory(slug="elsewhere"), "strategy.published")

    with django_capture_on_commit_callbacks(execute=True):
        written = webhook_event_emit(
            realm=realm, type="strategy.published", data={"strategyId": "custom:x"}
        )

    rows = list(WebhookMessage.objects.order_by("endpoint_id"))
    assert written == 2
    assert {row.endpoint_id for row in rows} == {both.pk, published.pk}
    assert len({row.event_id for row in rows}) == 1, "one event, one webhook-id everywhere"
    assert {row.body for row in rows} == {rows[0].body}
    body = json.loads(rows[0].body)
    assert (body["type"], body["data"]) == ("strategy.published", {"strategyId": "custom:x"})
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", body["timestamp"])
    assert all(row.status == "pending" and row.attempts == 0 for row in rows)
    assert webhook_kicks.kicks == 1


def test_an_event_of_a_rolled_back_transaction_leaves_nothing(
    realm, webhook_kicks, django_capture_on_commit_callbacks
):
    _endpoint(realm, "strategy.published")

    with (
        django_capture_on_commit_callbacks(execute=True),
        contextlib.suppress(Rollback),
        transaction.atomic(),
    ):
        webhook_event_emit(realm=realm, type="strategy.published", data={})
        raise Rollback

    assert not WebhookMessage.objects.exists()
    assert webhook_kicks.kicks == 0


def test_nobody_listening_writes_nothing_and_asks_for_nothing(
    realm, webhook_kicks, django_capture_on_commit_callbacks
):
    _endpoint(realm, "award.created")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert webhook_event_emit(realm=realm, type="strategy.archived", data={}) == 0

    assert callbacks == []
    assert not WebhookMessage.objects.exists()
    assert webhook_kicks.kicks == 0


def _award(api, user: str = "alice", *, key: str | None = None, **extra):
    return api.post(
        "/api/v1/games/g1/tasks/t1/points",
        {"externalUserId": user, "data": {"minutes": 3}, **extra},
        format="json",
        **({"HTTP_IDEMPOTENCY_KEY": key} if key else {}),
    )


@pytest.fixture
def task(realm):
    return TaskFactory(game=GameFactory(realm=realm, external_game_id="g1"), external_task_id="t1")


@pytest.mark.usefixtures("task")
def test_an_award_writes_award_created_with_what_the_game_server_knows(
    api, realm, webhook_kicks, django_capture_on_commit_callbacks
):
    endpoint = _endpoint(realm, "award.created")

    with django_capture_on_commit_callbacks(execute=True):
        response = _award(api, key="k-1")

    assert response.status_code == 201, response.json()
    answer = response.json()
    message = WebhookMessage.objects.get()
    assert (message.endpoint, message.event_type) == (endpoint, "award.created")
    body = json.loads(message.body)
    assert body["type"] == "award.created"
    assert body["timestamp"] == answer["createdAt"]
    assert body["data"] == {
        "awardId": answer["awardId"],
        "externalGameId": "g1",
        "externalTaskId": "t1",
        "externalUserId": "alice",
        "playerCreated": True,
        "points": answer["points"],
        "caseName": answer["caseName"],
        "callbackData": answer["callbackData"],
        "strategyId": "default",
        "strategyVersion": answer["strategyVersion"],
        "idempotencyKey": "k-1",
        "createdAt": answer["createdAt"],
    }
    assert webhook_kicks.kicks == 1


@pytest.mark.usefixtures("task")
def test_replays_dry_runs_and_other_events_write_no_award_created(api, realm, other_api):
    _endpoint(realm, "strategy.published", "strategy.archived")
    _endpoint(RealmFactory(slug="rival"), "award.created")
    assert _award(api, key="k-1").status_code == 201
    assert not WebhookMessage.objects.exists()

    listening = _endpoint(realm, "award.created")
    assert _award(api, key="k-1").status_code == 200
    assert _award(api, dryRun=True).status_code == 200
    assert not WebhookMessage.objects.exists()
    assert _award(api, "bob").status_code == 201

    assert [m.endpoint_id for m in WebhookMessage.objects.all()] == [listening.pk]
    assert json.loads(WebhookMessage.objects.get().body)["data"]["externalUserId"] == "bob"
    assert other_api.get(URL).json()["results"][0]["events"] == ["award.created"]


def test_the_signature_is_the_standard_webhooks_one():
    """The test vector of the Standard Webhooks reference libraries."""
    assert (
        signature(
            secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            webhook_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp=1614265330,
            body=b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
