"""Dashboard accounts: sign-in sessions the server can revoke, deactivation, password changes, and
refused sign-ins on record.

A session is a row (`admin_sessions`); the cookie carries only a random token whose SHA-256 the row
keeps. Every request looks the row up (`signed_in_admin`), so revoking it ends the session wherever
the cookie went: signing out revokes that one, deactivating an admin or changing their password
revokes all of theirs.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from db.models import Admin, AdminRole, AdminSession, LoginFailure
from domain.audit import AdminActor, record_admin_action
from domain.errors import InvalidInput, NotFound
from domain.parties import check_password, hash_password

SESSION_LIFETIME = timedelta(hours=12)  # a working day; then sign in again


@dataclass(frozen=True)
class SignedIn:
    """What a request knows of its admin: plain values, and the session's token."""

    admin_id: int
    email: str
    role: AdminRole
    token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, admin_id: int, client_ip: str | None, lifetime: timedelta = SESSION_LIFETIME) -> str:
    """A new sign-in for the admin; returns the token for the cookie (stored only as its hash)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(
        AdminSession(
            admin_id=admin_id,
            token_hash=_digest(token),
            client_ip=client_ip[:64] if client_ip else None,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return token


def signed_in_admin(session: Session, token: str) -> SignedIn | None:
    """The admin of a live session: not revoked, not expired, the admin active and not removed."""
    row = session.execute(
        select(Admin.id, Admin.email, Admin.role)
        .join(AdminSession, AdminSession.admin_id == Admin.id)
        .where(
            AdminSession.token_hash == _digest(token),
            AdminSession.revoked_at.is_(None),
            AdminSession.expires_at > func.now(),
            Admin.is_active.is_(True),
        )
    ).first()
    return SignedIn(row.id, row.email, row.role, token) if row else None


def revoke_session(session: Session, token: str) -> None:
    """Sign-out: this session ends, the admin's others (another device) stay."""
    session.execute(
        update(AdminSession)
        .where(AdminSession.token_hash == _digest(token), AdminSession.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


def revoke_all_sessions(session: Session, admin_id: int) -> int:
    result = session.execute(
        update(AdminSession)
        .where(AdminSession.admin_id == admin_id, AdminSession.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def admin_by_email(session: Session, email: str) -> Admin:
    admin = session.scalars(select(Admin).where(Admin.email == email.strip().lower())).first()
    if admin is None:
        raise NotFound(f"no admin with email {email.strip()}")
    return admin


@dataclass(frozen=True)
class AdminRow:
    id: int
    email: str
    role: AdminRole
    is_active: bool
    last_login_at: datetime | None
    live_sessions: int


def admin_list(session: Session) -> list[AdminRow]:
    """Every live admin, with how many sessions of theirs are open now."""
    live = (
        select(func.count())
        .where(
            AdminSession.admin_id == Admin.id,
            AdminSession.revoked_at.is_(None),
            AdminSession.expires_at > func.now(),
        )
        .correlate(Admin)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Admin.id, Admin.email, Admin.role, Admin.is_active, Admin.last_login_at, live).order_by(Admin.email)
    )
    return [AdminRow(*row) for row in rows]


def deactivate_admin(session: Session, actor: AdminActor, admin_id: int, *, may_be_self: bool = False) -> int:
    """The admin can no longer sign in, and every session of theirs ends now. Returns how many.
    Not oneself from the dashboard (the last admin would lock everyone out); the CLI, run by
    whoever holds the servers, may."""
    admin = session.get(Admin, admin_id)
    if admin is None:
        raise NotFound(f"no admin #{admin_id}")
    if admin.id == actor.admin_id and not may_be_self:
        raise InvalidInput("you cannot deactivate yourself; ask another admin")
    was_active = admin.is_active
    admin.is_active = False
    ended = revoke_all_sessions(session, admin.id)
    record_admin_action(
        session,
        actor,
        "admin.deactivate",
        "admin",
        admin.id,
        before={"is_active": was_active},
        after={"is_active": False, "sessions_revoked": ended},
    )
    return ended


def change_password(
    session: Session, actor: AdminActor, admin_id: int, new_password: str, current_password: str | None = None
) -> int:
    """A new password (checked against the current one when the admin changes their own), and
    every session of theirs ends: whoever knew the old one is signed out too. Returns how many."""
    admin = session.get(Admin, admin_id)
    if admin is None:
        raise NotFound(f"no admin #{admin_id}")
    if current_password is not None and not check_password(admin.password_hash, current_password):
        raise InvalidInput("the current password is wrong")
    admin.password_hash = hash_password(new_password)
    ended = revoke_all_sessions(session, admin.id)
    record_admin_action(session, actor, "admin.password", "admin", admin.id, after={"sessions_revoked": ended})
    return ended


def record_login_failure(session: Session, email: str, client_ip: str, *, locked: bool) -> None:
    """A refused sign-in on record (the caller commits it on its own: nothing else is written)."""
    session.add(LoginFailure(email=email[:254], client_ip=client_ip[:64], outcome="LOCKED" if locked else "FAILED"))


def recent_login_failures(session: Session, limit: int = 50) -> list[LoginFailure]:
    """The newest refused sign-ins, for the admins page: who was tried, from where."""
    return list(session.scalars(select(LoginFailure).order_by(LoginFailure.id.desc()).limit(limit)))


# Long past any lockout window (15 minutes) and long enough to answer "who tried this account last
# quarter": older sign-in records are only weight on the admins page and the tables.
SIGN_IN_RECORDS_KEPT = timedelta(days=90)


def prune_sign_in_records(session: Session, keep: timedelta = SIGN_IN_RECORDS_KEPT) -> tuple[int, int]:
    """Delete sessions that ended (expired or revoked) more than `keep` ago and refused sign-ins
    older than that; a live session is never touched. Returns (sessions, failures) deleted."""
    ended = session.execute(
        delete(AdminSession).where(
            or_(AdminSession.expires_at < func.now() - keep, AdminSession.revoked_at < func.now() - keep)
        )
    )
    failures = session.execute(delete(LoginFailure).where(LoginFailure.created_at < func.now() - keep))
    return ended.rowcount, failures.rowcount  # type: ignore[attr-defined]
