"""Celery tasks of the core domain: send due webhook deliveries."""

from __future__ import annotations

from celery import shared_task

from gamification.webhook_kick import TASK_NAME
from gamification.webhooks import webhook_deliveries_send


@shared_task(name=TASK_NAME, ignore_result=True)
def webhook_deliveries_send_task() -> int:
    """Send the deliveries due now (a kick after a commit, or the beat's sweep).

    Safe to run twice or on many workers at once: each delivery is claimed by one of them,
    and one whose worker died is due again once its lease runs out.
    """
    return webhook_deliveries_send()
