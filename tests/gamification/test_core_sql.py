"""The raw SQL of the core: built from the models, and the statement it has always sent."""

from __future__ import annotations

from gamification import sql

TASK_FOR_AWARD = (
    "SELECT t.id, t.strategy_id, t.status, g.id, g.external_game_id FROM "
    "gamification_task t JOIN gamification_game g ON g.id = t.game_id WHERE g.realm_id = "
    "%s AND g.external_game_id = %s AND t.external_task_id = %s"
)


def test_the_task_read_of_the_award_path_is_the_statement_of_old():
    assert sql.task_for_award() == TASK_FOR_AWARD
