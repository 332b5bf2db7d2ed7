"""ledger: the append-only, hash-chained journal of money events and its per-commissioner head

Existing bills, payments and voids are journalled by the upgrade, in time order.

Revision ID: 0005_ledger
Revises: 0004_charges
Create Date: 2026-12-01
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_ledger"
down_revision: str | None = "0004_charges"
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


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')):f}"


def _at(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _bill_payload(b: Any) -> dict[str, Any]:
    return {
        "bill_id": str(b.id),
        "bill_number": b.bill_number,
        "session_id": str(b.session_id),
        "farmer_id": str(b.farmer_id),
        "total_amount": _money(b.total_amount),
        "commission_rate": _money(b.commission_rate),
        "commission_amount": _money(b.commission_amount),
        "net_amount": _money(b.net_amount),
    }


def _backfill() -> None:
    """Journal the money events that happened before the journal existed, in time order.

    Kept a copy of `ledger.service` (hash, payloads) on purpose: a migration must not change
    when the app's code does. A void's time is the bill's `updated_at` (a void bill has no
    payments, so nothing else touched it after)."""
    conn = op.get_bind()
    bills = conn.execute(sa.text("SELECT * FROM bills")).all()
    by_id = {b.id: b for b in bills}
    events: list[tuple[int, datetime, int, str, str, Any, Decimal, dict[str, Any]]] = []
    for b in bills:
        payload = _bill_payload(b)
        events.append(
            (b.commissioner_id, b.created_at, 0, str(b.id), "BILL", b, b.net_amount, payload)
        )
        if b.status == "VOID":
            events.append(
                (
                    b.commissioner_id,
                    b.updated_at,
                    2,
                    str(b.id),
                    "BILL_VOID",
                    b,
                    -b.net_amount,
                    payload,
                )
            )
    for p in conn.execute(sa.text("SELECT * FROM payments")).all():
        b = by_id[p.bill_id]
        payload = {
            "payment_id": str(p.id),
            "bill_id": str(b.id),
            "amount": _money(p.amount),
            "method": p.method,
            "note": p.note,
        }
        events.append(
            (b.commissioner_id, p.created_at, 1, str(p.id), "PAYMENT", b, -p.amount, payload)
        )
    events.sort(key=lambda e: (e[0], e[1], e[2], e[3]))
    heads: dict[int, tuple[int, str]] = {}
    rows = []
    for commissioner_id, at, _, _, kind, b, amount, payload in events:
        seq, prev_hash = heads.get(commissioner_id, (0, GENESIS_HASH))
        seq += 1
        payload_text = _canonical(payload)
        body = {
            "commissioner_id": commissioner_id,
            "seq": seq,
            "at": _at(at),
            "kind": kind,
            "party_type": "FARMER",
            "party_id": str(b.farmer_id),
            "document_id": str(b.id),
            "document_number": b.bill_number,
            "amount": _money(amount),
            "payload": payload_text,
            "prev_hash": prev_hash,
        }
        hash_ = hashlib.sha256(_canonical(body).encode()).hexdigest()
        rows.append(
            {
                **body,
                "party_id": b.farmer_id,
                "document_id": b.id,
                "amount": amount,
                "at": at,
                "hash": hash_,
            }
        )
        heads[commissioner_id] = (seq, hash_)
    if rows:
        conn.execute(
            sa.text(
                "INSERT INTO ledger_entries (commissioner_id, seq, at, kind, party_type, "
                "party_id, document_id, document_number, amount, payload, prev_hash, hash) "
                "VALUES (:commissioner_id, :seq, :at, :kind, :party_type, :party_id, "
                ":document_id, :document_number, :amount, :payload, :prev_hash, :hash)"
            ),
            rows,
        )
        conn.execute(
            sa.text(
                "INSERT INTO ledger_heads (commissioner_id, last_seq, last_hash) "
                "VALUES (:c, :s, :h)"
            ),
            [{"c": c, "s": s, "h": h} for c, (s, h) in heads.items()],
        )


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
    _backfill()
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
