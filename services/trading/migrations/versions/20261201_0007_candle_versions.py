"""candle versions: every candle write renews a version a cached window is keyed by

0006's candle triggers learn which instruments a statement changed from a transition table:
PostgreSQL then keeps a copy of every row the statement wrote (1.43M rows for a million M1
bars and their aggregates, spilled to disk) and the trigger reads it again, a fifth to a
quarter of an import's time. They are replaced by one plain statement trigger (INSERT,
UPDATE, DELETE) that asks the transaction which instrument it writes: the service's candle
writers say so with `set_config('trading.candles_instrument', id, true)` (transaction-local).
That instrument then gets a new `candle_versions.version` and its id is notified; a writer
that does not say (SQL by hand, a script) renews `candles_generation.version`, which every
cached window also depends on, and notifies `*`, as TRUNCATE does (its 0006 trigger stays).

Versions come from one sequence, so a value is never used twice, not even after the tables
were truncated and their ids restarted. The session's read takes both in its statement, so a
window cached under them is exactly what the table holds; a cache emptied by NOTIFY alone
could serve a window for the moment between an import's commit and its notification.

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

# 0006's triggers with a transition table, one per event.
_EVENTS = (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))

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

_NOTIFY_TAGGED = """
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


def upgrade() -> None:
    op.execute("CREATE SEQUENCE candle_versions_seq")
    op.create_table(
        "candle_versions",
        # No foreign key, like candles: an instrument's bars go with it by the service.
        sa.Column("instrument_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("instrument_id", name=op.f("pk_candle_versions")),
    )
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
    op.execute(_NOTIFY_TAGGED)
    op.execute(
        "CREATE TRIGGER candles_notify_write AFTER INSERT OR UPDATE OR DELETE ON candles "
        "FOR EACH STATEMENT EXECUTE FUNCTION candles_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER candles_notify_write ON candles")
    op.execute(_NOTIFY_0006)
    for event, table in _EVENTS:
        op.execute(
            f"CREATE TRIGGER candles_notify_{event.lower()} AFTER {event} ON candles "
            f"REFERENCING {table} TABLE AS changed "
            "FOR EACH STATEMENT EXECUTE FUNCTION candles_notify()"
        )
    op.drop_table("candles_generation")
    op.drop_table("candle_versions")
    op.execute("DROP SEQUENCE candle_versions_seq")
