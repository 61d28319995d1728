"""One row type from the observer to the table: its keys are the log's fields, no more."""

from __future__ import annotations

import json

import pytest

from observability.models import DeadLetterReason, ExecutionLogDeadLetter, StrategyExecutionLog
from observability.rows import ExecutionLogRow, InvalidRowError, log_from_row
from observability.services import execution_log_batch_persist
from tests.factories import RealmFactory
from tests.observability.conftest import log_row, make_event, make_run


def test_the_row_type_has_one_key_per_concrete_field_of_the_log():
    keys = ExecutionLogRow.__required_keys__ | ExecutionLogRow.__optional_keys__
    assert keys == set(ExecutionLogRow.__annotations__)
    assert keys == {field.attname for field in StrategyExecutionLog._meta.concrete_fields}


def test_an_unknown_key_is_an_error():
    with pytest.raises(InvalidRowError, match="unknown keys: colour"):
        log_from_row({**log_row(1, "u"), "colour": "red"})


def test_a_missing_required_key_is_an_error():
    row = log_row(1, "u")
    del row["status"]
    with pytest.raises(InvalidRowError, match="missing keys: status"):
        log_from_row(row)


@pytest.mark.django_db
def test_a_row_with_an_unknown_key_is_dead_lettered_as_an_invalid_row():
    realm = RealmFactory()
    rows = [log_row(realm.pk, "kept"), log_row(realm.pk, "newer", colour="red")]
    assert execution_log_batch_persist(payload=json.dumps(rows), batch_id="b-rows") == 1
    assert list(StrategyExecutionLog.objects.values_list("external_user_id", flat=True)) == ["kept"]
    letter = ExecutionLogDeadLetter.objects.get()
    assert letter.reason == DeadLetterReason.INVALID_ROW
    assert "colour" in letter.detail
    assert json.loads(letter.payload)["external_user_id"] == "newer"


@pytest.mark.django_db
def test_the_observer_makes_rows_of_exactly_the_row_type(captured):
    observer, rows = captured
    realm = RealmFactory()
    for status in ("ok", "error"):
        observer.run_observe(
            run=make_run(status=status),
            traced=True,
            realm=realm,
            event=make_event(),
            api_key=None,
            correlation_id="c1",
        )
    assert observer.sink.flush(5)
    assert len(rows) == 2
    for row in rows:
        assert set(row) == ExecutionLogRow.__required_keys__ | ExecutionLogRow.__optional_keys__
        assert log_from_row(row).correlation_id == "c1"
