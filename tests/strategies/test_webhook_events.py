"""Publishing and archiving tell the realm's webhooks, in the transaction of the change."""

from __future__ import annotations

import contextlib
import json

import pytest
from django.db import transaction

from gamification.models import WebhookMessage
from gamification.services import api_key_create
from gamification.webhooks import webhook_endpoint_create
from strategies import services
from tests.factories import GameFactory, RealmFactory, strategy_program_full

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    """Raised to roll a transaction back."""


@pytest.fixture
def listening(realm):
    return webhook_endpoint_create(
        realm=realm,
        url="https://93.184.215.14/hook",
        events=["strategy.published", "strategy.archived"],
    )


def _events() -> list[tuple[str, dict]]:
    """The (type, data) of every outbox row, oldest first."""
    rows = WebhookMessage.objects.order_by("id")
    return [(row.event_type, json.loads(row.body)["data"]) for row in rows]


def _draft(realm, name="speed"):
    return services.strategy_create(
        realm=realm, name=name, type="DSL_FULL", ast_json=strategy_program_full()
    )


@pytest.mark.usefixtures("listening")
def test_publishing_tells_which_version_went_live_and_what_it_replaced(realm, django_user_model):
    v1 = _draft(realm)
    GameFactory(realm=realm, strategy_id=v1.strategy_id)
    key, _ = api_key_create(realm=realm, name="ci")
    services.strategy_publish(strategy=v1, api_key=key)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}).strategy
    publisher = django_user_model.objects.create_user("pat", is_staff=True)

    services.strategy_publish(strategy=v2, actor=publisher)

    events = _events()
    assert [event_type for event_type, _ in events] == [
        "strategy.published",
        "strategy.archived",
        "strategy.published",
    ]
    first, archived, second = (data for _, data in events)
    assert first == {
        "strategyId": v1.strategy_id,
        "name": "speed",
        "version": 1,
        "type": "DSL_FULL",
        "status": "PUBLISHED",
        "actor": {"type": "apiKey", "name": "ci", "prefix": key.prefix},
        "previousVersion": None,
        "switchedGames": 0,
        "switchedTasks": 0,
    }
    assert archived["strategyId"] == v1.strategy_id
    assert (archived["status"], archived["supersededByVersion"]) == ("ARCHIVED", 2)
    assert archived["actor"] == {"type": "user", "name": "pat"}
    assert (second["version"], second["previousVersion"], second["switchedGames"]) == (2, 1, 1)


@pytest.mark.usefixtures("listening")
def test_archiving_tells_once_and_publishing_the_live_version_again_tells_nothing(realm):
    live = services.strategy_publish(strategy=_draft(realm)).strategy
    services.strategy_publish(strategy=live)

    services.strategy_archive(strategy=live)
    services.strategy_archive(strategy=live)

    assert [event_type for event_type, _ in _events()] == [
        "strategy.published",
        "strategy.archived",
    ]
    assert _events()[1][1]["supersededByVersion"] is None


@pytest.mark.usefixtures("listening")
def test_a_publish_that_rolls_back_tells_nothing(realm):
    draft = _draft(realm)

    with contextlib.suppress(Rollback), transaction.atomic():
        services.strategy_publish(strategy=draft)
        raise Rollback  # the caller's transaction fails after the publish

    assert not WebhookMessage.objects.exists()


@pytest.mark.usefixtures("listening")
def test_another_realms_lifecycle_tells_this_realm_nothing():
    services.strategy_publish(strategy=_draft(RealmFactory(slug="rival")))

    assert not WebhookMessage.objects.exists()
