"""The JSON of wallet answers, also what a conversion stores for its replays."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gamification.models import ApiKey, LedgerEntry


def points_json(value: Decimal) -> int | float:
    """A points amount as a JSON number: an integer when whole (exact), else a float."""
    return int(value) if value == value.to_integral_value() else float(value)


def rate_json(value: Decimal | None) -> int | float | None:
    return None if value is None else points_json(value)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def actor_json(user: Any, key: ApiKey | None) -> dict[str, str] | None:
    """Who made an entry: ``{"type": "user", "name"}`` or ``{"type": "apiKey", ...}``."""
    if user is not None:
        return {"type": "user", "name": user.get_username()}
    if key is not None:
        return {"type": "apiKey", "name": key.name, "prefix": key.prefix}
    return None


def ledger_entry_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "kind": entry.kind,
        "points": points_json(entry.points),
        "coins": entry.coins,
        "awardId": str(entry.award_id) if entry.award_id is not None else None,
        "reason": entry.reason,
        "actor": actor_json(entry.actor_user, entry.actor_key),
        "createdAt": iso(entry.created_at),
    }


def body_dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
