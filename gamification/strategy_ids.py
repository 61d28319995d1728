"""Strategy ids, the one parser of them: a built-in's name or ``custom:<uuid>``.

Tasks and games are bound to these ids; every app reads them through this module.
"""

from __future__ import annotations

import re
import uuid

CUSTOM_PREFIX = "custom:"

_STRATEGY_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*|custom:[0-9a-fA-F-]{36}")

#: A custom strategy version in a URL path, bare or as ``custom:<uuid>``.
CUSTOM_ID_PATH_REGEX = (
    r"(?:custom:)?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
    r"[0-9a-fA-F]{12}"
)


def strategy_uuid(strategy_id: str) -> uuid.UUID | None:
    """Return the UUID of ``custom:<uuid>`` (or of a bare UUID); None for a built-in id."""
    try:
        return uuid.UUID(str(strategy_id).removeprefix(CUSTOM_PREFIX))
    except ValueError:
        return None


def custom_strategy_id(definition_id: uuid.UUID | str) -> str:
    """Return the id a task is bound to for the custom strategy version ``definition_id``."""
    return f"{CUSTOM_PREFIX}{definition_id}"


def strategy_id_is_custom(strategy_id: str) -> bool:
    return strategy_id.startswith(CUSTOM_PREFIX)


def strategy_id_well_formed(strategy_id: str) -> bool:
    """Whether ``strategy_id`` could ever resolve: a built-in name or ``custom:<uuid>``."""
    return _STRATEGY_ID.fullmatch(strategy_id) is not None
