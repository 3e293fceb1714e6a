"""What the gateway owns in its own database: the accounts people sign in with, the first
response to each ``Idempotency-Key`` so a retried POST creates nothing new, and the failed
sign-ins (counted for throttling, and kept for the audit)."""
from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from heyun.db import UtcDateTime, new_id, utcnow  # noqa: F401 (used by this service's modules)


class Base(DeclarativeBase):
    pass


class Account(Base):
    """A sign-in. Roles and links (organisation, resident) become the ``Caller`` of each request."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    # "scrypt$n$r$p$salt$hash" (hex): the parameters travel with the hash so they can be raised later.
    password_hash: Mapped[str] = mapped_column(String(300), nullable=False)
    roles: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    organization_id: Mapped[str | None] = mapped_column(String(36))
    resident_id: Mapped[str | None] = mapped_column(String(36))
    # Links the registry resolves at the first sign-in, because the registry's demo loader (not
    # ours) creates the organisations and residents: the organisation kind (one organisation of
    # that kind) and the resident's name (exactly one resident with that name).
    organization_kind: Mapped[str | None] = mapped_column(String(50))
    resident_name: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # Set when roles, links, the password or ``active`` change: tokens issued before it are refused
    # (gateway.edge.revocation), so a deactivation or demotion does not wait for the token to expire.
    tokens_valid_after: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, default=utcnow)


class IdempotentRequest(Base):
    """A POST made with an ``Idempotency-Key``; ``status`` is empty while the first one runs."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("account", "key", name="uq_idempotent_requests_account_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(100), nullable=False)
    key: Mapped[str] = mapped_column(String(200), nullable=False)
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    path: Mapped[str] = mapped_column(String(500), nullable=False)
    body_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(100))
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, default=utcnow)


class SignInThrottle(Base):
    """Failed sign-ins counted for one username or one client address (``kind``), shared by every
    gateway process; ``gateway.throttle`` turns the count into a delay."""

    __tablename__ = "sign_in_throttles"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_sign_in_throttles_kind_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)  # "account" or "address"
    key: Mapped[str] = mapped_column(String(100), nullable=False)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, default=utcnow)


class SignInFailure(Base):
    """The audit of wrong credentials: who was tried, from where, when (never the password)."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    client_address: Mapped[str] = mapped_column(String(64), nullable=False)
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, default=utcnow, index=True)
