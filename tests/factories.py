from __future__ import annotations

import factory

from gamification.models import Game, Player, Realm, Task


class RealmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Realm
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"realm-{n}")
    name = factory.LazyAttribute(lambda realm: realm.slug.title())


class GameFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Game

    realm = factory.SubFactory(RealmFactory)
    external_game_id = factory.Sequence(lambda n: f"game-{n}")
    platform = "web"
    strategy_id = "default"


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    game = factory.SubFactory(GameFactory)
    external_task_id = factory.Sequence(lambda n: f"task-{n}")
    strategy_id = factory.LazyAttribute(lambda task: task.game.strategy_id)


class PlayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Player

    realm = factory.SubFactory(RealmFactory)
    external_user_id = factory.Sequence(lambda n: f"user-{n}")


def award_history(
    *, task: Task, player: Player, timestamps, points: float = 1.0, data: dict | None = None
) -> None:
    """Store awards of ``player`` on ``task`` at ``timestamps``, with their running stats."""
    from gamification.models import Award
    from scoring.services import award_stats_record

    for moment in timestamps:
        Award.objects.create(
            realm=task.game.realm,
            player=player,
            task=task,
            points=points,
            strategy_id=task.strategy_id,
            strategy_version="test",
            data=data or {},
            created_at=moment,
        )
        award_stats_record(player_id=player.pk, task_id=task.pk, points=points, now=moment)


def strategy_program_full(points: int = 10, threshold: int = 30) -> dict:
    """A DSL_FULL program: ``points`` when data.minutes >= ``threshold``, else 1."""
    return {
        "type": "program",
        "rules": [
            {
                "type": "rule",
                "when": {
                    "type": "compare",
                    "op": ">=",
                    "left": {"type": "field", "path": "data.minutes"},
                    "right": {"type": "literal", "value": threshold},
                },
                "then": [
                    {
                        "type": "assign_points",
                        "value": {"type": "literal", "value": points},
                        "case_name": "LongSession",
                    }
                ],
            }
        ],
        "default": {
            "type": "assign_points",
            "value": {"type": "literal", "value": 1},
            "case_name": "ShortSession",
        },
    }


class StrategyDefinitionFactory(factory.django.DjangoModelFactory):
    """A DRAFT DSL_FULL version (built directly: use strategies.services to change it)."""

    class Meta:
        model = "strategies.StrategyDefinition"

    realm = factory.SubFactory(RealmFactory)
    name = factory.Sequence(lambda n: f"strategy-{n}")
    type = "DSL_FULL"
    parent_strategy_id = None
    ast_json = factory.LazyFunction(strategy_program_full)
    version = 1
    status = "DRAFT"


def member_client(username: str, realm: Realm, role: str):
    """A test client logged in as ``username``, holding ``role`` in ``realm``."""
    from django.test import Client

    from gamification.services import realm_member_add

    client = Client()
    client.force_login(
        realm_member_add(username=username, realm_slug=realm.slug, role=role).membership.user
    )
    return client


def is_missing(response) -> bool:
    """The admin's answer to an object that does not exist (for this user): a 404 page."""
    return response.status_code == 404 and b"<html" in response.content.lower()


def strategy_program_ratio() -> dict:
    """A DSL_FULL program awarding ``100 / data.divisor`` as "Ratio": a zero divisor fails
    the run with ``DSL_ARITH_DIV_BY_ZERO``."""
    return {
        "type": "program",
        "rules": [
            {
                "type": "rule",
                "when": {"type": "literal", "value": True},
                "then": [
                    {
                        "type": "assign_points",
                        "case_name": "Ratio",
                        "value": {
                            "type": "arith",
                            "op": "/",
                            "left": {"type": "literal", "value": 100},
                            "right": {"type": "field", "path": "data.divisor"},
                        },
                    }
                ],
            }
        ],
    }
