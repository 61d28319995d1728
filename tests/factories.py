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


def award_history(*, task: Task, player: Player, timestamps, points: float = 1.0) -> None:
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
            created_at=moment,
        )
        award_stats_record(player_id=player.pk, task_id=task.pk, points=points, now=moment)
