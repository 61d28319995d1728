"""Celery tasks of custom strategies: run a backtest, fail the ones whose worker died."""

from __future__ import annotations

from celery import shared_task

from strategies.backtests import backtest_run, backtests_expire

BACKTEST_RUN_TASK = "strategies.tasks.backtest_run_task"


@shared_task(name=BACKTEST_RUN_TASK, ignore_result=True)
def backtest_run_task(backtest_id: str) -> None:
    """Run one queued backtest. A redelivered message (a worker lost mid-run, a broker
    visibility timeout) finds the row no longer queued and does nothing."""
    backtest_run(backtest_id=backtest_id)


@shared_task(name="strategies.tasks.backtests_expire_task", ignore_result=True)
def backtests_expire_task() -> int:
    """Fail backtests whose worker stopped moving their heartbeat, or that none took."""
    return backtests_expire()
