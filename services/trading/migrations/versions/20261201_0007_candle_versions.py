"""candle versions: a counter per instrument that every candle write bumps

The candles trigger of 0006 (one per statement) also gives each instrument whose bars the
statement changed (TRUNCATE: all of them) a new `candle_versions.version`, in the writer's
transaction. Versions come from one sequence, so a value is never used twice, not even after
the tables were truncated and their ids restarted. A read that takes the version in the same statement as the session knows
whether a candle window it cached is still what the table holds: a cache keyed by it is
exact, where one emptied by NOTIFY could serve a window for the moment between an import's
commit and its notification.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOTIFY_0006 = """
CREATE OR REPLACE FUNCTION candles_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        ids := '*';
    ELSE  -- the transition table is named `changed` by each trigger below
        SELECT string_agg(DISTINCT instrument_id::text, ',') INTO ids FROM changed;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM pg_notify('trading_candles', ids);
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.execute("CREATE SEQUENCE candle_versions_seq")
    op.create_table(
        "candle_versions",
        # No foreign key, like candles: an instrument's bars go with it by the service.
        sa.Column("instrument_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("instrument_id", name=op.f("pk_candle_versions")),
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION candles_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            ids text;
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                ids := '*';
                UPDATE candle_versions SET version = nextval('candle_versions_seq');
            ELSE  -- the transition table is named `changed` by each trigger of 0006
                SELECT string_agg(DISTINCT instrument_id::text, ',') INTO ids FROM changed;
                INSERT INTO candle_versions (instrument_id, version)
                SELECT i, nextval('candle_versions_seq')
                FROM (SELECT DISTINCT instrument_id AS i FROM changed) q
                ON CONFLICT (instrument_id) DO UPDATE SET version = EXCLUDED.version;
            END IF;
            IF ids IS NOT NULL THEN
                PERFORM pg_notify('trading_candles', ids);
            END IF;
            RETURN NULL;
        END $$
        """
    )


def downgrade() -> None:
    op.execute(_NOTIFY_0006)
    op.drop_table("candle_versions")
    op.execute("DROP SEQUENCE candle_versions_seq")
