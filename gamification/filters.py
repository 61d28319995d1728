import django_filters

from gamification.models import Game, Task, TaskStatus


class GameFilter(django_filters.FilterSet):
    platform = django_filters.CharFilter()
    strategyId = django_filters.CharFilter(field_name="strategy_id")
    externalGameId = django_filters.CharFilter(
        field_name="external_game_id", lookup_expr="startswith"
    )

    class Meta:
        model = Game
        fields = ["platform", "strategyId", "externalGameId"]


class TaskFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=TaskStatus.choices)
    strategyId = django_filters.CharFilter(field_name="strategy_id")
    externalTaskId = django_filters.CharFilter(
        field_name="external_task_id", lookup_expr="startswith"
    )

    class Meta:
        model = Task
        fields = ["status", "strategyId", "externalTaskId"]
