"""accounts: whose money each charge is (AGENT, MARKET_YARD, THIRD_PARTY), on the master and on
each bill's charge line; the commissioner's business name for bills

Existing charges and bill charge lines become AGENT (the agent's own income) until the
commissioner says otherwise.

Revision ID: 0007_accounts
Revises: 0006_bill_verification
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_accounts"
down_revision: str | None = "0006_bill_verification"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCOUNT_VALID = "account IN ('AGENT', 'MARKET_YARD', 'THIRD_PARTY')"


def upgrade() -> None:
    for table in ("charges", "bill_charges"):
        op.add_column(
            table,
            sa.Column("account", sa.Text(), server_default=sa.text("'AGENT'"), nullable=False),
        )
        op.create_check_constraint(op.f(f"ck_{table}_account_valid"), table, ACCOUNT_VALID)
    op.add_column("commissioner_settings", sa.Column("business_name", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("commissioner_settings", "business_name")
    for table in ("bill_charges", "charges"):
        op.drop_constraint(op.f(f"ck_{table}_account_valid"), table, type_="check")
        op.drop_column(table, "account")
