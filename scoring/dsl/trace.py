"""Trace entries of spec section 10, built only by traced runs."""

from __future__ import annotations

from typing import Any, TypedDict


class TraceEntry(TypedDict, total=False):
    nodeId: str | None
    type: str
    value: Any
    branch: str


def entry(node_id: str | None, node_type: str, value: Any, branch: str | None = None) -> dict:
    """Return one trace entry; ``branch`` only when the node took one."""
    if branch is None:
        return {"nodeId": node_id, "type": node_type, "value": value}
    return {"nodeId": node_id, "type": node_type, "value": value, "branch": branch}
