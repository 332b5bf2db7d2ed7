"""Where the replay learns that a fill is coming: the hook `step {until: "fill"}` stops at.

The positions engine (orders, stops, targets, stop-out; a later issue) plugs in here. Until
it exists no session has anything that can fill, so the hook finds none and "until fill"
reveals to the end of the session's range or data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ..sessions.models import TradingSession


async def next_fill_ts(
    s: AsyncSession, sess: TradingSession, after: datetime, until: datetime
) -> datetime | None:
    """Open time of the first bar in (`after`, `until`] on which something of the locked
    session `sess` fills (a pending order triggers, a stop or target is hit, a stop-out), or
    None when nothing fills in that range. Read-only: the fill itself happens when
    `clock.advance_to` processes that bar.

    Today: None (no positions or orders exist yet).
    """
    del s, sess, after, until
    return None
