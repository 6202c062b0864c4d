"""SQL for staff accounts, sessions, sign-in attempts and portal links. No rules here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from node.store.staff_models import (
    LoginAttempt,
    PortalLink,
    PortalSession,
    StaffSession,
    StaffUser,
)


def insert_user(*, session: Session, user: StaffUser) -> None:
    session.add(user)
    session.flush()


def user_by_id(*, session: Session, user_id: str) -> StaffUser | None:
    return session.get(StaffUser, user_id)


def user_by_username(*, session: Session, username: str) -> StaffUser | None:
    return session.exec(select(StaffUser).where(StaffUser.username == username)).first()


def all_users(*, session: Session) -> Sequence[StaffUser]:
    return session.exec(select(StaffUser).order_by(col(StaffUser.username))).all()


def update_user(*, session: Session, user_id: str, now: datetime, **values: object) -> None:
    session.execute(
        update(StaffUser).where(col(StaffUser.id) == user_id).values(changed_at=now, **values)
    )


def insert_session(*, session: Session, row: StaffSession) -> None:
    session.add(row)
    session.flush()


def session_by_digest(*, session: Session, digest: str) -> StaffSession | None:
    return session.get(StaffSession, digest)


def touch_session(*, session: Session, digest: str, now: datetime) -> None:
    session.execute(
        update(StaffSession).where(col(StaffSession.id) == digest).values(last_seen_at=now)
    )


def end_session(*, session: Session, digest: str, now: datetime) -> None:
    session.execute(
        update(StaffSession)
        .where(col(StaffSession.id) == digest, col(StaffSession.ended_at).is_(None))
        .values(ended_at=now)
    )


def end_user_sessions(
    *, session: Session, user_id: str, now: datetime, keep: str | None = None
) -> int:
    """End the user's live sessions, all but the one with digest ``keep``."""
    query = update(StaffSession).where(
        col(StaffSession.user_id) == user_id, col(StaffSession.ended_at).is_(None)
    )
    if keep is not None:
        query = query.where(col(StaffSession.id) != keep)
    result = session.execute(query.values(ended_at=now))
    return int(result.rowcount)  # type: ignore[attr-defined]


def insert_attempt(*, session: Session, username: str, address: str, at: datetime) -> None:
    session.add(LoginAttempt(username=username, address=address, at=at))
    session.flush()


def attempts_since(
    *, session: Session, since: datetime, username: str | None = None, address: str | None = None
) -> int:
    query = select(func.count()).select_from(LoginAttempt).where(col(LoginAttempt.at) >= since)
    if username is not None:
        query = query.where(col(LoginAttempt.username) == username)
    if address is not None:
        query = query.where(col(LoginAttempt.address) == address)
    return int(session.exec(query).one())


def oldest_attempt_since(
    *, session: Session, since: datetime, username: str | None = None, address: str | None = None
) -> datetime | None:
    query = select(func.min(LoginAttempt.at)).where(col(LoginAttempt.at) >= since)
    if username is not None:
        query = query.where(col(LoginAttempt.username) == username)
    if address is not None:
        query = query.where(col(LoginAttempt.address) == address)
    return session.exec(query).one()


def clear_attempts(*, session: Session, username: str) -> None:
    session.execute(delete(LoginAttempt).where(col(LoginAttempt.username) == username))


def prune_attempts(*, session: Session, before: datetime) -> None:
    session.execute(delete(LoginAttempt).where(col(LoginAttempt.at) < before))


def insert_portal_link(*, session: Session, link: PortalLink) -> None:
    session.add(link)
    session.flush()


def use_portal_link(*, session: Session, digest: str, now: datetime) -> str | None:
    """Mark an unused, unexpired link used; its customer id, or None. One statement,
    so two browsers racing for the same link cannot both win."""
    result = session.execute(
        update(PortalLink)
        .where(
            col(PortalLink.id) == digest,
            col(PortalLink.used_at).is_(None),
            col(PortalLink.expires_at) > now,
        )
        .values(used_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    link = session.get(PortalLink, digest)
    return link.customer_id if link else None


def prune_portal_links(*, session: Session, before: datetime) -> None:
    session.execute(delete(PortalLink).where(col(PortalLink.expires_at) < before))


def insert_portal_session(*, session: Session, row: PortalSession) -> None:
    session.add(row)
    session.flush()


def portal_session_by_digest(*, session: Session, digest: str) -> PortalSession | None:
    return session.get(PortalSession, digest)


def end_portal_session(*, session: Session, digest: str, now: datetime) -> None:
    session.execute(
        update(PortalSession)
        .where(col(PortalSession.id) == digest, col(PortalSession.ended_at).is_(None))
        .values(ended_at=now)
    )


def delete_unused_portal_links(*, session: Session, customer_id: str) -> int:
    """Delete a customer's links that were never used (they can no longer sign in)."""
    result = session.execute(
        delete(PortalLink).where(
            col(PortalLink.customer_id) == customer_id, col(PortalLink.used_at).is_(None)
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def end_customer_portal_sessions(*, session: Session, customer_id: str, now: datetime) -> int:
    """End a customer's live portal sessions."""
    result = session.execute(
        update(PortalSession)
        .where(
            col(PortalSession.customer_id) == customer_id,
            col(PortalSession.ended_at).is_(None),
            col(PortalSession.expires_at) > now,
        )
        .values(ended_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
