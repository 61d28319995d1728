"""The designer's form of a strategy version in the admin; the services write the rows."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.utils import timezone

from gamification.errors import DomainError
from gamification.parsers import json_text_load
from scoring.builtins.registry import builtin_list
from strategies.errors import StrategyError, StrategyNameTaken
from strategies.models import StrategyDefinition
from strategies.programs import AUTHORABLE_TYPES, strategy_shape_check
from strategies.services import strategy_name_check
from strategies.starters import starter_get, starter_list


class StrictJSONFormField(forms.JSONField):
    """A form JSON field reading its text like the API does (finite numbers, bounded depth,
    no NUL or unpaired surrogate): a bad program is a form error, not a database error."""

    def to_python(self, value: Any) -> Any:
        if self.disabled or not isinstance(value, str) or value in self.empty_values:
            return super().to_python(value)
        try:
            converted = json_text_load(text=value)
        except DomainError as error:
            raise forms.ValidationError(error.detail, code="invalid") from None
        return forms.fields.JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            return json_text_load(text=data)
        except DomainError:
            return forms.fields.InvalidJSONInput(data)


class StrategyDefinitionForm(forms.ModelForm):
    starter = forms.ChoiceField(
        required=False,
        label="Start from",
        help_text="An empty program, a built-in's template, an example, or an extension.",
    )
    parent_strategy_id = forms.ChoiceField(required=False, label="Parent built-in")
    ast_json = StrictJSONFormField(
        required=False,
        label="Program (JSON)",
        widget=forms.Textarea(attrs={"rows": 18, "class": "vLargeTextField dsl-raw-json"}),
    )
    blockly_xml = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = StrategyDefinition
        fields = [
            "realm",
            "name",
            "description",
            "type",
            "parent_strategy_id",
            "experiment_tag",
            "ast_json",
            "blockly_xml",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._choices_set(
            "starter", [("", "---------")] + [(s.key, s.title) for s in starter_list()]
        )
        self._choices_set(
            "parent_strategy_id",
            [("", "— none (DSL_FULL) —")] + [(b.id, b.id) for b in builtin_list()],
        )
        if "type" in self.fields:
            self._choices_set("type", [(t.value, t.label) for t in AUTHORABLE_TYPES])
        if not self.instance._state.adding:
            del self.fields["starter"]

    def _choices_set(self, name: str, choices: list[tuple[str, str]]) -> None:
        # Each is a ChoiceField: the two declared above, and ``type``, a model field with choices.
        cast(forms.ChoiceField, self.fields[name]).choices = choices

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        starter = starter_get(data.get("starter") or "")
        if starter is not None and not data.get("ast_json"):
            data["ast_json"] = starter.ast_json
            data["type"] = starter.type
            data["parent_strategy_id"] = starter.parent_strategy_id
        realm, name = data.get("realm"), data.get("name")
        if self.instance._state.adding and realm and name:
            try:
                strategy_name_check(realm=realm, name=name)
            except StrategyNameTaken:
                self.add_error("name", "This realm already has a strategy with this name.")
        type_ = data.get("type", self.instance.type)
        try:
            data["parent_strategy_id"] = strategy_shape_check(
                type=type_, parent_strategy_id=data.get("parent_strategy_id") or None
            )
        except StrategyError as error:
            self.add_error(
                "parent_strategy_id" if "parent" in error.code.lower() else None, error.detail
            )
        return data

    def _post_clean(self) -> None:
        # The services build and check the rows (versions, statuses, node ids), not the form.
        pass


def _moment_input() -> forms.DateTimeInput:
    """A browser's date and time picker, which reads and writes ISO text (with the T)."""
    return forms.DateTimeInput(
        format="%Y-%m-%dT%H:%M:%S", attrs={"type": "datetime-local", "step": 1}
    )


class BacktestForm(forms.Form):
    """The window of a backtest, in UTC; the service checks the rest (program, realm's cap)."""

    since = forms.DateTimeField(
        widget=_moment_input(),
        help_text="UTC. Awards created from this instant on.",
    )
    until = forms.DateTimeField(
        required=False,
        widget=_moment_input(),
        help_text="UTC, excluded. Empty: now.",
    )
    max_events = forms.IntegerField(
        min_value=1,
        label="Max events",
        help_text="The earliest events of the window run, at most this many.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = settings.BACKTEST_MAX_EVENTS
        field = cast(forms.IntegerField, self.fields["max_events"])
        field.max_value = limit
        field.validators.append(MaxValueValidator(limit))
        field.widget.attrs["max"] = limit

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since is not None and since >= (until or timezone.now()):
            self.add_error(
                "until" if until else "since",
                "until must be after since." if until else "since must be in the past.",
            )
        return data
