"""What ``award_points`` answers, in snake_case; ``scoring.renderers`` gives it its JSON form."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gamification.achievements.awards import AchievementAnswer


@dataclass(frozen=True, slots=True)
class AwardAnswer:
    """The scored event: the run's public result and what was stored (nothing on a dry run).

    ``experiment_arm`` is the arm of the player when the strategy's family runs an experiment.
    """

    points: float | None
    case_name: str | None
    callback_data: dict[str, Any]
    strategy_id: str
    strategy_version: str
    external_user_id: str
    player_created: bool
    award_id: uuid.UUID | None = None
    created_at: datetime | None = None
    dry_run: bool = False
    experiment_arm: str | None = None
    #: The level, streak and badges of the award, for a game that defines any.
    achievements: AchievementAnswer | None = None
