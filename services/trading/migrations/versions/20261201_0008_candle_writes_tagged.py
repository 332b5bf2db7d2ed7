"""candle writes tagged by instrument: statement triggers without transition tables

0006 and 0007 learn which instruments a candle statement changed from a transition table:
PostgreSQL then keeps a copy of every row the statement wrote (1.43M rows for a million M1
bars and their aggregates, spilled to disk) and the trigger reads it twice. That was a fifth
to a quarter of an import's time. Now one plain statement trigger (INSERT, UPDATE, DELETE)
asks the transaction which instrument it writes: the candle writers of the service say so
with `set_config('trading.candles_instrument', id, true)` (transaction-local). Then that
instrument gets a new `candle_versions.version` and its id is notified; a writer that does
not say (SQL by hand, a script) renews `candles_generation.version`, which every cached
window also depends on, and notifies `*`. TRUNCATE keeps its 0006 trigger (it notifies `*`)
and renews the generation too.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS = (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))

_NOTIFY_0007 = """
CREATE OR REPLACE FUNCTION candles_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        ids := '*';
        UPDATE candle_versions SET version = nextval('candle_versions_seq');
    ELSE
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


def upgrade() -> None:
    op.create_table(
        "candles_generation",
        sa.Column("id", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("id", name=op.f("ck_candles_generation_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candles_generation")),
    )
    op.execute("INSERT INTO candles_generation DEFAULT VALUES")
    for event, _ in _EVENTS:
        op.execute(f"DROP TRIGGER candles_notify_{event.lower()} ON candles")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION candles_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            tagged text := nullif(current_setting('trading.candles_instrument', true), '');
        BEGIN
            IF TG_OP <> 'TRUNCATE' AND tagged IS NOT NULL THEN
                INSERT INTO candle_versions (instrument_id, version)
                VALUES (tagged::bigint, nextval('candle_versions_seq'))
                ON CONFLICT (instrument_id) DO UPDATE SET version = EXCLUDED.version;
                PERFORM pg_notify('trading_candles', tagged);
            ELSE  -- an upsert: the row is back even after a TRUNCATE that took it
                INSERT INTO candles_generation (id, version)
                VALUES (true, nextval('candle_versions_seq'))
                ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version;
                PERFORM pg_notify('trading_candles', '*');
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER candles_notify_write AFTER INSERT OR UPDATE OR DELETE ON candles "
        "FOR EACH STATEMENT EXECUTE FUNCTION candles_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER candles_notify_write ON candles")
    op.execute(_NOTIFY_0007)
    for event, table in _EVENTS:
        op.execute(
            f"CREATE TRIGGER candles_notify_{event.lower()} AFTER {event} ON candles "
            f"REFERENCING {table} TABLE AS changed "
            "FOR EACH STATEMENT EXECUTE FUNCTION candles_notify()"
        )
    op.drop_table("candles_generation")
