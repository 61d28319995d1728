"""The block editor's JSON wire: its requests read into snake_case, its answers rendered.

The editor's endpoints live in the admin (``strategies.admin_views``); this is their
serializer layer, the admin's counterpart of ``strategies.serializers``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gamification.errors import DomainError, InvalidString, JsonInvalid
from gamification.parsers import json_document_load, json_text_load
from scoring.builtins.registry import builtin_list
from scoring.strategy_types import StrategyKind
from strategies.errors import StrategyInvalid
from strategies.programs import ProgramCheck
from strategies.serializers import simulation_body
from strategies.simulation import DEFAULT_USER, Simulation, SimulationDefaults
from strategies.starters import Starter, starter_list

#: Fields of the editor's JSON requests that are text when present.
_TEXT_FIELDS = ("type", "parentStrategyId", "externalUserId", "externalGameId", "externalTaskId")
#: The largest value of a BIGINT primary key.
_MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class EditorRequest:
    """A program as the editor sends it, with the inputs of a simulation."""

    type: str
    parent_strategy_id: str | None
    ast_json: Any
    external_user_id: str = DEFAULT_USER
    data: dict[str, Any] = field(default_factory=dict)
    mock_state: dict[str, Any] = field(default_factory=dict)
    external_game_id: str | None = None
    external_task_id: str | None = None
    realm_id: int | None = None


def editor_request_parse(*, raw: bytes, encoding: str, simulation: bool = False) -> EditorRequest:
    """Read a body as the API reads one: PARSE_ERROR, INVALID_STRING (with pointer).

    The program comes as ``astJson`` or as the text ``astText``; ``simulation`` also reads
    the realm the run is asked for.
    """
    body = json_document_load(raw=raw or b"{}", encoding=encoding)
    if not isinstance(body, dict):
        raise JsonInvalid("The body must be a JSON object.")
    for name in _TEXT_FIELDS:
        if not isinstance(body.get(name), str | None):
            raise DomainError(f"{name} must be a string.", code="VALIDATION_ERROR", field=name)
    return EditorRequest(
        type=body.get("type") or StrategyKind.DSL_FULL,
        parent_strategy_id=body.get("parentStrategyId") or None,
        ast_json=_program(body),
        external_user_id=body.get("externalUserId") or DEFAULT_USER,
        data=_object(body.get("data")),
        mock_state=_object(body.get("mockState")),
        external_game_id=body.get("externalGameId") or None,
        external_task_id=body.get("externalTaskId") or None,
        realm_id=_realm_id(body.get("realm")) if simulation else None,
    )


def _program(body: dict[str, Any]) -> Any:
    text = body.get("astText")
    if not isinstance(text, str):
        return body.get("astJson")
    try:
        return json_text_load(text=text) if text.strip() else None
    except InvalidString as error:
        # The pointer is the program's own (astText is the program as text).
        raise InvalidString(error.detail, field="astText", **error.extra) from None
    except JsonInvalid as error:
        raise StrategyInvalid(
            [{"code": "DSL_AST_NOT_JSON", "message": error.detail, "pointer": "", "nodeId": None}]
        ) from None


def _realm_id(value: Any) -> int | None:
    """Return the realm id of an editor request (a number, or the realm select's text)."""
    if value is None or value == "":
        return None
    # int() refuses 4 300 digits; an id has 19 at most (the range check below refuses more).
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_ID:
        raise DomainError(
            "realm must be the id of a realm (an integer).",
            code="VALIDATION_ERROR",
            field="realm",
        )
    return value


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# -- answers ------------------------------------------------------------------------------------
def simulation_answer(simulation: Simulation, *, tree_html: str) -> dict[str, Any]:
    """Render a simulation as the API does, with the rule tree drawn for the editor."""
    return {**simulation_body(simulation), "treeHtml": tree_html}


def defaults_answer(defaults: SimulationDefaults) -> dict[str, Any]:
    return {"data": defaults.data, "mockState": defaults.mock_state}


def validation_answer(check: ProgramCheck) -> dict[str, Any]:
    return {"ok": check.ok, "errors": check.errors}


def editor_config(
    *,
    issues: list[dict[str, Any]],
    read_only: bool,
    can_simulate: bool,
    realm_id: int | None,
    urls: dict[str, str],
    media_url: str,
) -> dict[str, Any]:
    """Render what the editor's script starts from (``urls``: simulate, defaults, validate)."""
    return {
        "starters": [_starter_body(s) for s in starter_list()],
        "builtins": [{"id": b.id, "variables": dict(b.variables)} for b in builtin_list()],
        "issues": issues,
        "readOnly": read_only,
        "simulateUrl": urls["simulate"],
        "defaultsUrl": urls["defaults"],
        "validateUrl": urls["validate"],
        "canSimulate": can_simulate,
        "realmId": realm_id,
        "mediaUrl": media_url,
    }


def _starter_body(starter: Starter) -> dict[str, Any]:
    return {
        "key": starter.key,
        "title": starter.title,
        "description": starter.description,
        "type": starter.type,
        "parentStrategyId": starter.parent_strategy_id,
        "astJson": starter.ast_json,
        # The exact JSON text, so that 2.0 stays a float in the browser.
        "astText": json.dumps(starter.ast_json, indent=2),
    }
