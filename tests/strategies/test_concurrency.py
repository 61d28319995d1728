"""Concurrent lifecycle transitions of one family, on the real database."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from strategies import services
from strategies.models import StrategyDefinition, StrategyStatus
from tests.factories import RealmFactory, strategy_program_full


def _run_together(*targets):
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def wrap(target):
        def run():
            try:
                barrier.wait()
                target()
            except BaseException as error:  # noqa: BLE001 - reported to the test thread
                errors.append(error)
            finally:
                connection.close()

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


@pytest.mark.django_db(transaction=True)
def test_two_publishes_of_sibling_drafts_at_once_leave_exactly_one_published_row():
    realm = RealmFactory(slug="race")
    v1 = services.strategy_create(
        realm=realm, name="race", type="DSL_FULL", ast_json=strategy_program_full()
    )
    services.strategy_publish(strategy=v1)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "a"}).strategy
    v3 = services.strategy_edit(
        strategy=v1, changes={"ast_json": strategy_program_full(points=3)}
    ).strategy
    assert (v2.version, v3.version) == (2, 3)

    errors = _run_together(
        lambda: services.strategy_publish(strategy=v2),
        lambda: services.strategy_publish(strategy=v3),
    )
    assert errors == []
    statuses = dict(StrategyDefinition.objects.filter(realm=realm).values_list("version", "status"))
    assert list(statuses.values()).count(StrategyStatus.PUBLISHED) == 1
    assert statuses[1] == StrategyStatus.ARCHIVED


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_a_second_published_row_in_a_family():
    realm = RealmFactory(slug="guard")
    v1 = services.strategy_create(
        realm=realm, name="guard", type="DSL_FULL", ast_json=strategy_program_full()
    )
    services.strategy_publish(strategy=v1)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "b"}).strategy
    with pytest.raises(IntegrityError), transaction.atomic():
        StrategyDefinition.objects.filter(pk=v2.pk).update(status=StrategyStatus.PUBLISHED)


@pytest.mark.django_db(transaction=True)
def test_two_edits_of_the_published_version_at_once_create_two_distinct_versions():
    realm = RealmFactory(slug="edits")
    v1 = services.strategy_create(
        realm=realm, name="edits", type="DSL_FULL", ast_json=strategy_program_full()
    )
    services.strategy_publish(strategy=v1)
    errors = _run_together(
        lambda: services.strategy_edit(strategy=v1, changes={"description": "x"}),
        lambda: services.strategy_edit(strategy=v1, changes={"description": "y"}),
    )
    assert errors == []
    versions = sorted(
        StrategyDefinition.objects.filter(realm=realm).values_list("version", flat=True)
    )
    assert versions == [1, 2, 3]
