"""stream notifications: NOTIFY on every change of a session row and of candles

Every change of a session's clock, status, speed, balance or fills writes its
`trading_sessions` row, so a trigger there tells every replica's event streams (LISTEN) that
the session changed, whichever code path wrote it. Candle writes notify the instruments whose
bars changed, so the replicas' bar caches drop them. TRUNCATE notifies `*` (everything).

Channels `trading_sessions` and `trading_candles`, as trading_service/sessions/hub.py
listens on them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION trading_sessions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_LEVEL = 'STATEMENT' THEN  -- TRUNCATE
                PERFORM pg_notify('trading_sessions', '*');
            ELSE  -- one notification per session and transaction (NOTIFY folds duplicates)
                PERFORM pg_notify('trading_sessions', OLD.id::text);
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER trading_sessions_notify AFTER UPDATE OR DELETE ON trading_sessions "
        "FOR EACH ROW EXECUTE FUNCTION trading_sessions_notify()"
    )
    op.execute(
        "CREATE TRIGGER trading_sessions_notify_truncate AFTER TRUNCATE ON trading_sessions "
        "FOR EACH STATEMENT EXECUTE FUNCTION trading_sessions_notify()"
    )
    op.execute(
        """
        CREATE FUNCTION candles_notify() RETURNS trigger LANGUAGE plpgsql AS $$
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
    )
    # A trigger with a transition table has one event only: three of them, one function.
    for event, table in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER candles_notify_{event.lower()} AFTER {event} ON candles "
            f"REFERENCING {table} TABLE AS changed "
            "FOR EACH STATEMENT EXECUTE FUNCTION candles_notify()"
        )
    op.execute(
        "CREATE TRIGGER candles_notify_truncate AFTER TRUNCATE ON candles "
        "FOR EACH STATEMENT EXECUTE FUNCTION candles_notify()"
    )


def downgrade() -> None:
    for name in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER candles_notify_{name} ON candles")
    op.execute("DROP FUNCTION candles_notify()")
    op.execute("DROP TRIGGER trading_sessions_notify_truncate ON trading_sessions")
    op.execute("DROP TRIGGER trading_sessions_notify ON trading_sessions")
    op.execute("DROP FUNCTION trading_sessions_notify()")
