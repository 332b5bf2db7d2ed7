"""charges: the charges master, farmer bill charge lines, commission payer, the settings
profile (commission cap, charges on the farmer), payment terms with each bill's due_at, and
a bank reference on payments

Revision ID: 0004_charges
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_charges"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNITS = ("KG", "QUINTAL", "TONNE", "BAG", "BOX", "CRATE", "DOZEN", "PIECE")
DUE_AT_FALLBACK_SQL = (
    "((date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC')"
)
NET_SQL = (
    "net_amount = total_amount - charges_amount"
    " - CASE WHEN commission_payer = 'FARMER' THEN commission_amount ELSE 0 END"
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def _uuid_pk() -> sa.Column:
    return sa.Column(
        "id",
        postgresql.UUID(as_uuid=True),
        server_default=sa.text("gen_random_uuid()"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "charges",
        _uuid_pk(),
        sa.Column("commissioner_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("rate", sa.Numeric(14, 2), nullable=False),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("payer", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            _in("kind", ("PERCENT", "PER_UNIT", "FIXED_PER_LOT")),
            name=op.f("ck_charges_kind_valid"),
        ),
        sa.CheckConstraint(_in("payer", ("FARMER", "BUYER")), name=op.f("ck_charges_payer_valid")),
        sa.CheckConstraint("rate >= 0", name=op.f("ck_charges_rate_nonnegative")),
        sa.CheckConstraint(
            "kind <> 'PERCENT' OR rate <= 100", name=op.f("ck_charges_percent_range")
        ),
        sa.CheckConstraint(
            "(kind = 'PER_UNIT') = (unit IS NOT NULL)", name=op.f("ck_charges_unit_iff_per_unit")
        ),
        sa.CheckConstraint(
            f"unit IS NULL OR {_in('unit', UNITS)}", name=op.f("ck_charges_unit_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charges")),
    )
    op.create_index("ix_charges_commissioner_id_name", "charges", ["commissioner_id", "name"])

    op.create_table(
        "bill_charges",
        _uuid_pk(),
        sa.Column("bill_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("charge_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("basis", sa.Numeric(16, 3), nullable=False),
        sa.Column("rate", sa.Numeric(14, 2), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            _in("kind", ("PERCENT", "PER_UNIT", "FIXED_PER_LOT")),
            name=op.f("ck_bill_charges_kind_valid"),
        ),
        sa.CheckConstraint("basis >= 0", name=op.f("ck_bill_charges_basis_nonnegative")),
        sa.CheckConstraint("rate >= 0", name=op.f("ck_bill_charges_rate_nonnegative")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_bill_charges_amount_nonnegative")),
        sa.ForeignKeyConstraint(
            ["bill_id"],
            ["bills.id"],
            name=op.f("fk_bill_charges_bill_id_bills"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_charges")),
        sa.UniqueConstraint("bill_id", "position", name=op.f("uq_bill_charges_bill_id_position")),
    )

    op.add_column(
        "commissioner_settings",
        sa.Column(
            "commission_payer", sa.Text(), server_default=sa.text("'FARMER'"), nullable=False
        ),
    )
    op.add_column(
        "commissioner_settings",
        sa.Column("max_commission_rate", sa.Numeric(5, 2), nullable=True),
    )
    op.add_column(
        "commissioner_settings",
        sa.Column(
            "farmer_charges_allowed", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
    )
    op.add_column(
        "commissioner_settings",
        sa.Column("payment_terms", sa.Text(), server_default=sa.text("'SAME_DAY'"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_commissioner_settings_commission_payer_valid"),
        "commissioner_settings",
        _in("commission_payer", ("FARMER", "BUYER")),
    )
    op.create_check_constraint(
        op.f("ck_commissioner_settings_max_rate_range"),
        "commissioner_settings",
        "max_commission_rate IS NULL OR (max_commission_rate >= 0 AND max_commission_rate <= 100)",
    )
    op.create_check_constraint(
        op.f("ck_commissioner_settings_payment_terms_valid"),
        "commissioner_settings",
        _in("payment_terms", ("SAME_DAY", "WITHIN_24_HOURS", "WITHIN_48_HOURS", "WITHIN_72_HOURS")),
    )

    op.add_column(
        "bills",
        sa.Column(
            "commission_payer", sa.Text(), server_default=sa.text("'FARMER'"), nullable=False
        ),
    )
    op.add_column(
        "bills",
        sa.Column("charges_amount", sa.Numeric(14, 2), server_default=sa.text("0"), nullable=False),
    )
    # Bills issued before the payment clock: due by the end of their sale day (SAME_DAY).
    op.add_column(
        "bills",
        sa.Column(
            "due_at",
            sa.DateTime(timezone=True),
            server_default=sa.text(DUE_AT_FALLBACK_SQL),
            nullable=False,
        ),
    )
    op.execute(
        "UPDATE bills SET due_at = "
        "(((s.date AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC') "
        "FROM auction_sessions s WHERE s.id = bills.session_id"
    )
    op.drop_constraint(op.f("ck_bills_net_is_difference"), "bills", type_="check")
    op.create_check_constraint(
        op.f("ck_bills_commission_payer_valid"),
        "bills",
        _in("commission_payer", ("FARMER", "BUYER")),
    )
    op.create_check_constraint(op.f("ck_bills_charges_nonnegative"), "bills", "charges_amount >= 0")
    op.create_check_constraint(op.f("ck_bills_net_is_total_less_farmer_lines"), "bills", NET_SQL)

    op.add_column("payments", sa.Column("reference", sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f("ck_payments_reference_length"),
        "payments",
        "reference IS NULL OR char_length(reference) <= 64",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_payments_reference_length"), "payments", type_="check")
    op.drop_column("payments", "reference")
    # Bills with charge lines or a buyer-paid commission cannot be expressed by 0003's rule.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM bills WHERE charges_amount <> 0 "
        "OR commission_payer <> 'FARMER') THEN RAISE EXCEPTION "
        "'bills with charges or a buyer-paid commission cannot be downgraded'; END IF; END $$"
    )
    op.drop_constraint(op.f("ck_bills_net_is_total_less_farmer_lines"), "bills", type_="check")
    op.drop_constraint(op.f("ck_bills_charges_nonnegative"), "bills", type_="check")
    op.drop_constraint(op.f("ck_bills_commission_payer_valid"), "bills", type_="check")
    op.create_check_constraint(
        op.f("ck_bills_net_is_difference"), "bills", "net_amount = total_amount - commission_amount"
    )
    op.drop_column("bills", "due_at")
    op.drop_column("bills", "charges_amount")
    op.drop_column("bills", "commission_payer")
    for name in ("payment_terms_valid", "max_rate_range", "commission_payer_valid"):
        op.drop_constraint(
            op.f(f"ck_commissioner_settings_{name}"), "commissioner_settings", type_="check"
        )
    for column in (
        "payment_terms",
        "farmer_charges_allowed",
        "max_commission_rate",
        "commission_payer",
    ):
        op.drop_column("commissioner_settings", column)
    op.drop_table("bill_charges")
    op.drop_index("ix_charges_commissioner_id_name", table_name="charges")
    op.drop_table("charges")
