"""ledger: the append-only, hash-chained journal of money events and its per-commissioner head

Revision ID: 0004_ledger
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_ledger"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64
KIND_PARTY = {
    "BILL": "FARMER",
    "PAYMENT": "FARMER",
    "BILL_VOID": "FARMER",
    "INVOICE": "BUYER",
    "COLLECTION": "BUYER",
    "INVOICE_VOID": "BUYER",
}

# Append-only: UPDATE, DELETE and TRUNCATE are refused whoever asks. Tests that must alter a
# row (tamper checks) or empty the table run with `SET LOCAL session_replication_role =
# replica` (superuser), which skips ordinary triggers.
APPEND_ONLY_FN = """
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: % refused (a void is a reversal entry)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "ledger_heads",
        sa.Column("commissioner_id", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "last_hash", sa.Text(), server_default=sa.text(f"'{GENESIS_HASH}'"), nullable=False
        ),
        sa.CheckConstraint("last_seq >= 0", name=op.f("ck_ledger_heads_seq_nonnegative")),
        sa.PrimaryKeyConstraint("commissioner_id", name=op.f("pk_ledger_heads")),
    )
    kinds = ", ".join(f"'{k}'" for k in KIND_PARTY)
    kind_party = " OR ".join(
        f"(kind = '{k}' AND party_type = '{p}')" for k, p in KIND_PARTY.items()
    )
    op.create_table(
        "ledger_entries",
        sa.Column("commissioner_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("party_type", sa.Text(), nullable=False),
        sa.Column("party_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("document_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("document_number", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_ledger_entries_seq_positive")),
        sa.CheckConstraint(f"kind IN ({kinds})", name=op.f("ck_ledger_entries_kind_valid")),
        sa.CheckConstraint(
            "party_type IN ('FARMER', 'BUYER')", name=op.f("ck_ledger_entries_party_type_valid")
        ),
        sa.CheckConstraint(kind_party, name=op.f("ck_ledger_entries_kind_matches_party")),
        sa.CheckConstraint("hash ~ '^[0-9a-f]{64}$'", name=op.f("ck_ledger_entries_hash_hex")),
        sa.CheckConstraint(
            "prev_hash ~ '^[0-9a-f]{64}$'", name=op.f("ck_ledger_entries_prev_hash_hex")
        ),
        sa.PrimaryKeyConstraint("commissioner_id", "seq", name="pk_ledger_entries"),
    )
    op.create_index(
        "ix_ledger_entries_party",
        "ledger_entries",
        ["commissioner_id", "party_type", "party_id", "seq"],
    )
    op.create_index("ix_ledger_entries_at", "ledger_entries", ["commissioner_id", "at"])
    op.create_index(
        "ix_ledger_entries_document", "ledger_entries", ["commissioner_id", "document_id"]
    )
    op.execute(APPEND_ONLY_FN)
    op.execute(
        "CREATE TRIGGER ledger_entries_no_update_delete BEFORE UPDATE OR DELETE ON ledger_entries "
        "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()"
    )
    op.execute(
        "CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER ledger_entries_no_truncate ON ledger_entries")
    op.execute("DROP TRIGGER ledger_entries_no_update_delete ON ledger_entries")
    op.execute("DROP FUNCTION ledger_entries_append_only()")
    op.drop_index("ix_ledger_entries_document", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_at", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_party", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_heads")
