"""Who acts, and the one way a use case writes down that they did.

An admin's change goes to the admin audit trail (`admin_audit_logs`, the dashboard's Audit page),
as it always has; that table names an admin, so what a wholesaler, a retailer or a CLI operator
without an admin account does goes to `audit_logs` (actor type and id), with the same action name
and the same before/after. Either way the row is added to the caller's session: it commits, or
rolls back, with the change it describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from db.models import ActorType, AdminAuditLog, AuditLog
from domain.audit import AdminActor, json_safe, record_admin_action
from domain.errors import InvalidInput

Via = Literal["whatsapp", "dashboard", "cli"]


@dataclass(frozen=True)
class Actor:
    """The person behind a use case and where they acted from. `id` is the admin's, wholesaler's
    or retailer's row id; a CLI operator who names no admin has none, only their login name."""

    kind: ActorType
    id: int | None
    via: Via
    ip: str | None = None
    operator: str | None = None

    @classmethod
    def admin(cls, admin_id: int, *, via: Via = "dashboard", ip: str | None = None) -> Actor:
        # The CLI's admin rows have always said "cli" where the dashboard's give the address.
        return cls(ActorType.ADMIN, admin_id, via, ip if ip is not None or via != "cli" else "cli")

    @classmethod
    def from_admin(cls, actor: AdminActor) -> Actor:
        """The dashboard's signed-in admin."""
        return cls.admin(actor.admin_id, via="dashboard", ip=actor.ip)

    @classmethod
    def wholesaler(cls, wholesaler_id: int, *, via: Via = "whatsapp") -> Actor:
        return cls(ActorType.WHOLESALER, wholesaler_id, via)

    @classmethod
    def retailer(cls, retailer_id: int, *, via: Via = "whatsapp") -> Actor:
        return cls(ActorType.RETAILER, retailer_id, via)

    @classmethod
    def cli_operator(cls, name: str) -> Actor:
        """Someone at the server's shell who named no admin account (`--admin` not given)."""
        return cls(ActorType.SYSTEM, None, "cli", "cli", name[:60] or "unknown")

    @property
    def is_admin(self) -> bool:
        return self.kind == ActorType.ADMIN

    def is_wholesaler(self, wholesaler_id: int | None) -> bool:
        return self.kind == ActorType.WHOLESALER and self.id == wholesaler_id

    def as_admin(self) -> AdminActor:
        """For the domain calls that take the admin (the decision engine's conflict log, a reversal)."""
        if not self.is_admin or self.id is None:
            raise InvalidInput("only a Thok admin can do this (give --admin EMAIL on the command line)")
        return AdminActor(self.id, self.ip)

    @property
    def source(self) -> str:
        """One short label: "admin:7", "wholesaler:3", "cli:ravi"."""
        if self.kind == ActorType.SYSTEM:
            return f"cli:{self.operator}"
        return f"{self.kind.value.lower()}:{self.id}"


def audit(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    retailer_id: int | None = None,
) -> AuditLog | AdminAuditLog:
    """The use case's audit row: `action` and before/after are the same whoever acts; the row
    says who (see the module's docstring for which table)."""
    if actor.is_admin:
        admin = actor.as_admin()
        return record_admin_action(session, admin, action, entity_type, entity_id, before=before, after=after)
    row = AuditLog(
        retailer_id=retailer_id,
        actor_type=actor.kind,
        actor_id=actor.id,
        action=action,
        details=json_safe(
            {
                "entity_type": entity_type,
                "entity_id": None if entity_id is None else str(entity_id),
                "before": before,
                "after": after,
                "via": actor.via,
                "operator": actor.operator,
            }
        ),
    )
    session.add(row)
    session.flush()
    return row
