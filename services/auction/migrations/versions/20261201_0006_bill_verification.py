"""bill verification: a public verification code on every bill; the service's signing keys

Every bill gets an unguessable code (192 random bits from `secrets`, base64url) for
GET /api/public/bills/{code}; existing bills get one here. `signing_keys` keeps the Ed25519
key the public bills are signed with when AUCTION_SIGNING_KEY is not given.

Revision ID: 0006_bill_verification
Revises: 0005_ledger
Create Date: 2026-12-01
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_bill_verification"
down_revision: str | None = "0005_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CODE_PATTERN = "^[A-Za-z0-9_-]{22,64}$"
# Rows inserted by plain SQL later: two v4 UUIDs (244 random bits), base64url.
CODE_SQL = (
    "translate(encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'base64'),"
    " '+/=', '-_')"
)


def upgrade() -> None:
    op.add_column("bills", sa.Column("verification_code", sa.Text(), nullable=True))
    conn = op.get_bind()
    bills = sa.table("bills", sa.column("id"), sa.column("verification_code"))
    ids = conn.execute(sa.select(bills.c.id).where(bills.c.verification_code.is_(None))).scalars()
    for bill_id in ids.all():
        conn.execute(
            bills.update()
            .where(bills.c.id == bill_id)
            .values(verification_code=secrets.token_urlsafe(24))
        )
    op.alter_column("bills", "verification_code", nullable=False, server_default=sa.text(CODE_SQL))
    op.create_unique_constraint(op.f("uq_bills_verification_code"), "bills", ["verification_code"])
    op.create_check_constraint(
        op.f("ck_bills_verification_code_format"),
        "bills",
        f"verification_code ~ '{CODE_PATTERN}'",
    )

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_index(
        "uq_signing_keys_one_active",
        "signing_keys",
        ["active"],
        unique=True,
        postgresql_where=sa.text("active"),
    )


def downgrade() -> None:
    op.drop_index("uq_signing_keys_one_active", table_name="signing_keys")
    op.drop_table("signing_keys")
    op.drop_constraint(op.f("ck_bills_verification_code_format"), "bills", type_="check")
    op.drop_constraint(op.f("uq_bills_verification_code"), "bills", type_="unique")
    op.drop_column("bills", "verification_code")
