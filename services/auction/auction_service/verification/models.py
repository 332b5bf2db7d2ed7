"""The auction service's own Ed25519 key, generated once and shared by every replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class SigningKey(Base):
    """Generated keys that sign public bills; the one `active` signs, the JWKS lists all."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        Index("uq_signing_keys_one_active", "active", unique=True, postgresql_where=text("active")),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
