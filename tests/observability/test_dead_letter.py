"""What the worker cannot persist goes to the dead-letter table with its reason, is counted,
and never stops the rows beside it."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from prometheus_client import REGISTRY

from observability.models import DeadLetterReason, ExecutionLogDeadLetter, StrategyExecutionLog
from observability.services import execution_log_batch_persist
from tests.factories import RealmFactory
from tests.observability.conftest import log_row, wait_for


def dead_lettered(reason: str) -> float:
    return (
        REGISTRY.get_sample_value("execution_log_rows_dead_lettered_total", {"reason": reason})
        or 0.0
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    ["not json at all", '{"rows": "an object, not a list"}', "[" * 100_000 + "]" * 100_000],
    ids=["garbage", "object", "100000-deep"],
)
def test_a_payload_that_is_no_json_list_is_dead_lettered_whole(payload):
    before = dead_lettered("undecodable")
    assert execution_log_batch_persist(payload=payload.encode(), batch_id="b-1") == 0
    letter = ExecutionLogDeadLetter.objects.get()
    assert letter.reason == DeadLetterReason.UNDECODABLE
    assert letter.batch_id == "b-1"
    assert letter.payload_bytes == len(payload)
    assert len(letter.payload) <= 1_048_576
    assert letter.detail
    assert dead_lettered("undecodable") - before == 1


@pytest.mark.django_db
def test_malformed_rows_are_dead_lettered_alone_and_the_others_inserted():
    realm = RealmFactory()
    rows = [
        log_row(realm.pk, "kept-1"),
        log_row(realm.pk, "bad-number", duration_ms="fast"),
        "not an object",
        log_row(realm.pk, "bad-id", id="not-a-uuid"),
        log_row(realm.pk, "kept-2"),
    ]
    before = dead_lettered("invalid_row")
    inserted = execution_log_batch_persist(payload=json.dumps(rows), batch_id="b-2")
    assert inserted == 2
    assert set(StrategyExecutionLog.objects.values_list("external_user_id", flat=True)) == {
        "kept-1",
        "kept-2",
    }
    letters = list(ExecutionLogDeadLetter.objects.order_by("created_at"))
    assert [letter.reason for letter in letters] == [DeadLetterReason.INVALID_ROW] * 3
    assert letters[0].row_id is not None
    assert letters[0].realm_id == realm.pk
    assert "bad-number" in letters[0].payload
    assert dead_lettered("invalid_row") - before == 3


@pytest.mark.django_db
def test_a_row_the_database_refuses_is_dead_lettered_and_its_batch_still_lands():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL refuses NUL in jsonb; SQLite stores it")
    realm = RealmFactory()
    rows = [
        log_row(realm.pk, "kept"),
        log_row(realm.pk, "nul", data={"x": "a\u0000b"}),
    ]
    assert execution_log_batch_persist(payload=json.dumps(rows)) == 1
    assert list(StrategyExecutionLog.objects.values_list("external_user_id", flat=True)) == ["kept"]
    letter = ExecutionLogDeadLetter.objects.get()
    assert letter.reason == DeadLetterReason.REFUSED_BY_DATABASE
    assert "\x00" not in letter.payload
    assert '"nul"' in letter.payload


@pytest.mark.django_db
def test_redelivered_rows_insert_nothing_twice():
    realm = RealmFactory()
    payload = json.dumps([log_row(realm.pk, f"u{i}") for i in range(5)])
    assert execution_log_batch_persist(payload=payload) == 5
    assert execution_log_batch_persist(payload=payload) == 0
    assert StrategyExecutionLog.objects.count() == 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_a_batch_its_worker_died_on_too_often_is_dead_lettered(fresh_redis, settings):
    from observability.outbox import ATTEMPTS_KEY, Outbox, redis_client
    from observability.services import execution_log_outbox_batch_persist

    settings.CELERY_BROKER_URL = fresh_redis
    realm = RealmFactory()
    outbox = Outbox(redis_client(fresh_redis))
    outbox.store(batch_id="b-3", payload=json.dumps([log_row(realm.pk, "u")]), redeliver_after=60)
    outbox.client.hset(ATTEMPTS_KEY, "b-3", settings.DSL_EXECUTION_LOG_MAX_ATTEMPTS)

    assert execution_log_outbox_batch_persist(batch_id="b-3") == 0
    letter = ExecutionLogDeadLetter.objects.get()
    assert letter.reason == DeadLetterReason.ATTEMPTS_EXHAUSTED
    assert letter.row_count == 1
    assert outbox.state().batches == 0
    assert StrategyExecutionLog.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_the_real_worker_dead_letters_a_garbage_batch_and_goes_on(start_worker, fresh_redis):
    from gamification.celery import app
    from observability.outbox import Outbox, redis_client
    from observability.sink import TASK_NAME

    realm = RealmFactory()
    worker = start_worker()
    outbox = Outbox(redis_client(fresh_redis))
    outbox.store(batch_id="garbage", payload="[" * 50_000, redeliver_after=60)
    outbox.store(
        batch_id="good", payload=json.dumps([log_row(realm.pk, "after")]), redeliver_after=60
    )
    with app.connection_for_write(url=fresh_redis) as conn:
        for batch_id in ("garbage", "good"):
            app.send_task(TASK_NAME, args=[batch_id], connection=conn)

    assert wait_for(lambda: StrategyExecutionLog.objects.filter(external_user_id="after").exists())
    assert wait_for(ExecutionLogDeadLetter.objects.filter(batch_id="garbage").exists)
    assert worker.process.poll() is None
    assert outbox.state().batches == 0


@pytest.mark.django_db
def test_operators_read_dead_letters_of_their_realm_in_the_admin(client, admin_client):
    from gamification.services import realm_member_add

    realm = RealmFactory(slug="ops-realm")
    bad_row = log_row(realm.pk, "bad-number", duration_ms="fast")
    execution_log_batch_persist(payload=json.dumps([bad_row]).encode(), batch_id="b-row")
    execution_log_batch_persist(payload=b"nope", batch_id="b-admin")
    of_realm = ExecutionLogDeadLetter.objects.get(batch_id="b-row")
    unreadable = ExecutionLogDeadLetter.objects.get(batch_id="b-admin")
    user = realm_member_add(username="ops", realm_slug=realm.slug, role="operator").membership.user
    client.force_login(user)

    listing = client.get("/admin/observability/executionlogdeadletter/")
    assert listing.status_code == 200
    assert b"ValueError" in listing.content
    # A batch that could not be read belongs to no realm: only superusers see it.
    assert b"JSONDecodeError" not in listing.content
    detail = client.get(f"/admin/observability/executionlogdeadletter/{of_realm.pk}/change/")
    assert detail.status_code == 200
    assert b"bad-number" in detail.content
    hidden = client.get(f"/admin/observability/executionlogdeadletter/{unreadable.pk}/change/")
    assert hidden.status_code == 404
    superuser_view = f"/admin/observability/executionlogdeadletter/{unreadable.pk}/change/"
    assert b"nope" in admin_client.get(superuser_view).content
