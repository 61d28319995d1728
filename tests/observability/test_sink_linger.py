"""The publisher waits a moment for a batch to fill, so that it publishes once per batch."""

from __future__ import annotations

import time

import pytest

from observability.observer import ExecutionObserver
from observability.sink import ExecutionLogSink
from tests.factories import RealmFactory
from tests.observability.conftest import make_event, make_run

pytestmark = pytest.mark.django_db


def _observe(observer: ExecutionObserver, realm, count: int) -> None:
    for i in range(count):
        observer.run_observe(
            run=make_run(status="error"),
            traced=False,
            realm=realm,
            event=make_event(),
            api_key=None,
            correlation_id=str(i),
        )


def test_rows_arriving_within_the_linger_are_published_as_one_batch():
    realm = RealmFactory(slug="linger")
    batches: list[int] = []
    sink = ExecutionLogSink(
        inline=True, persist=lambda rows: batches.append(len(rows)), linger_seconds=2.0
    )
    observer = ExecutionObserver(sink=sink)

    for _ in range(5):
        _observe(observer, realm, 2)
        time.sleep(0.05)

    assert batches == []
    assert sink.flush(5)
    assert batches == [10]
    sink.shutdown(1)


def test_a_full_batch_does_not_wait_for_the_linger():
    realm = RealmFactory(slug="linger-full")
    batches: list[int] = []
    sink = ExecutionLogSink(
        inline=True,
        persist=lambda rows: batches.append(len(rows)),
        batch_size=4,
        linger_seconds=30.0,
    )
    observer = ExecutionObserver(sink=sink)

    _observe(observer, realm, 8)
    deadline = time.monotonic() + 5
    while sum(batches) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)

    assert batches == [4, 4]
    sink.shutdown(1)


def test_flush_cuts_the_linger_short():
    realm = RealmFactory(slug="linger-flush")
    batches: list[int] = []
    sink = ExecutionLogSink(
        inline=True, persist=lambda rows: batches.append(len(rows)), linger_seconds=30.0
    )
    observer = ExecutionObserver(sink=sink)
    _observe(observer, realm, 3)

    started = time.monotonic()
    assert sink.flush(5)

    assert time.monotonic() - started < 2
    assert batches == [3]
    sink.shutdown(1)


def test_shutdown_publishes_what_lingers():
    realm = RealmFactory(slug="linger-stop")
    batches: list[int] = []
    sink = ExecutionLogSink(
        inline=True, persist=lambda rows: batches.append(len(rows)), linger_seconds=30.0
    )
    observer = ExecutionObserver(sink=sink)
    _observe(observer, realm, 3)

    sink.shutdown(2)

    assert batches == [3]
