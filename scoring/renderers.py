"""The JSON bytes of the award answer: camelCase on the wire, the one renderer of that shape.

The service stores these bytes with the award so that an idempotent retry replays them byte
for byte; the view answers them as they are. A DRF serializer would cost more than the rest of
the request, so this is a plain function (``AwardResponseSerializer`` documents the shape).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from scoring.answers import AwardAnswer


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def award_render(answer: AwardAnswer) -> bytes:
    """Return the answer as compact JSON, keys in the order the API has always answered.

    ``experimentArm`` is there only while the strategy's family runs an experiment; ``level``,
    ``streak`` and ``badgesEarned`` only when the game defines levels, streaks or badges.
    """
    body: dict[str, Any] = {
        "points": answer.points,
        "caseName": answer.case_name,
        "callbackData": answer.callback_data,
        "strategyId": answer.strategy_id,
        "strategyVersion": answer.strategy_version,
        "externalUserId": answer.external_user_id,
        "playerCreated": answer.player_created,
        "awardId": str(answer.award_id) if answer.award_id is not None else None,
        "createdAt": _iso(answer.created_at) if answer.created_at is not None else None,
    }
    if answer.experiment_arm is not None:
        body["experimentArm"] = answer.experiment_arm
    achieved = answer.achievements
    if achieved is not None:
        if achieved.level is not None:
            level = achieved.level
            body["level"] = {"level": level.level, "name": level.name, "changed": level.changed}
        if achieved.streak is not None:
            body["streak"] = {
                "current": achieved.streak.current,
                "longest": achieved.streak.longest,
            }
        if achieved.badges_earned is not None:
            body["badgesEarned"] = list(achieved.badges_earned)
    if answer.dry_run:
        body["dryRun"] = True
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
