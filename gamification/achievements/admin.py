"""The admin forms of achievements: a badge's condition and a game's levels, validated."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from gamification.achievements.definitions import (
    BadgeConditionInvalid,
    LevelsInvalid,
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
