"""The admin forms of achievements: a badge's condition and a game's levels, validated."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from gamification.achievements.definitions import (
    BadgeConditionInvalid,
    BadgeLimitReached,
    LevelsInvalid,
    badge_limits_check,
    condition_check,
    levels_check,
)
from gamification.models import Badge


def levels_clean(levels: Any) -> list[dict[str, Any]]:
    """Return the levels in stored form, or the form error naming the level at fault."""
    if levels in (None, ""):
        return []
    try:
        return levels_check(levels)
    except LevelsInvalid as error:
        where = error.extra.get("pointer")
        raise ValidationError(f"{error.detail}{f' (at {where})' if where else ''}") from None


class BadgeForm(forms.ModelForm):
    """A badge whose condition must validate; each issue is shown with its JSON pointer."""

    class Meta:
        model = Badge
        fields = ["game", "badge_id", "name", "description", "repeatable", "condition"]

    def clean_condition(self) -> Any:
        condition = self.cleaned_data.get("condition")
        try:
            return condition_check(condition).ast
        except BadgeConditionInvalid as error:
            raise ValidationError(
                [
                    f"{issue['code']} at {issue['pointer'] or '(the condition)'}: "
                    f"{issue['message']}"
                    for issue in error.extra["errors"]
                ]
            ) from None

    def clean(self) -> dict[str, Any] | None:
        """A new badge past the game's limits is refused as the API refuses it.

        An edited badge is not counted again; one past the limits all the same (its
        condition now names more tasks) is left out of awards, as any badge past them is.
        """
        cleaned = super().clean()
        game, condition = self.cleaned_data.get("game"), self.cleaned_data.get("condition")
        if self.instance.pk is None and game is not None and condition is not None:
            try:
                badge_limits_check(game_id=game.pk, condition=condition_check(condition))
            except BadgeLimitReached as error:
                raise ValidationError(error.detail) from None
        return cleaned
