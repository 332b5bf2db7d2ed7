"""`/positions/{id}` routes get the position through its session: the session's access rule
(owner or admin, else 403) and its settling, then the position as of now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from ..dependencies import PrincipalDep, SessionDep
from ..sessions import dependencies as sessions_deps
from . import repository as repo
from .models import Position

MISSING = "Position not found"


@dataclass(frozen=True)
class VisiblePositionView:
    session: sessions_deps.SessionView
    position: Position


@dataclass(frozen=True)
class LockedPositionView:
    session: sessions_deps.LockedSessionView
    position: Position


async def _visible(
    position_id: int, db: SessionDep, principal: PrincipalDep
) -> VisiblePositionView:
    session_id = await repo.session_id_of(db, position_id)
    view = await sessions_deps.visible_owner(db, principal, session_id, MISSING)
    return VisiblePositionView(view, await repo.get(db, position_id))  # read after settling


async def _locked(position_id: int, db: SessionDep, principal: PrincipalDep) -> LockedPositionView:
    session_id = await repo.session_id_of(db, position_id)
    view = await sessions_deps.locked_owner(db, principal, session_id, MISSING)
    return LockedPositionView(view, await repo.get(db, position_id))


VisiblePosition = Annotated[VisiblePositionView, Depends(_visible)]
LockedPosition = Annotated[LockedPositionView, Depends(_locked)]
