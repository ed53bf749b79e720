"""The admin audit trail: who changed what, from where, with the row before and after.

`record_admin_action` adds its row to the caller's session, so it commits (or rolls back) with the
change it describes: a refused change leaves no audit row, and no change goes unrecorded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from db.models import AdminAuditLog


@dataclass(frozen=True)
class AdminActor:
    """The signed-in admin and the address the request came from."""

    admin_id: int
    ip: str | None = None

    @property
    def source(self) -> str:
        # The `source` the decision engine writes to decision_conflict_logs for admin overrides.
        return f"admin:{self.admin_id}"


def json_safe(value: Any) -> Any:
    """Plain JSON for JSONB: money as exact strings (never floats), times as ISO 8601, enums by value."""
    if isinstance(value, enum.Enum):  # before str: our enums are StrEnums
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    return str(value)


def snapshot(obj: Any, *fields: str) -> dict[str, Any]:
    """The named attributes of a row, JSON-safe: the `before`/`after` of an audit entry."""
    return {name: json_safe(getattr(obj, name)) for name in fields}


def record_admin_action(
    session: Session,
    actor: AdminActor,
    action: str,
    entity_type: str,
    entity_id: object | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AdminAuditLog:
    row = AdminAuditLog(
        admin_id=actor.admin_id,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        before=json_safe(before) if before is not None else None,
        after=json_safe(after) if after is not None else None,
        ip_address=actor.ip[:64] if actor.ip else None,
    )
    session.add(row)
    session.flush()
    return row
