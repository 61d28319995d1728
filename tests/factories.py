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
