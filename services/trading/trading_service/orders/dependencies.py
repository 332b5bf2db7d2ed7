"""`/orders/{id}` routes get the order through its session: the session's access rule (owner
or admin, else 403) and its settling, then the order as of now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from ..dependencies import PrincipalDep, SessionDep
from ..sessions import dependencies as sessions_deps
from . import repository as repo
from .models import Order

MISSING = "Order not found"


@dataclass(frozen=True)
class VisibleOrderView:
    session: sessions_deps.SessionView
    order: Order


@dataclass(frozen=True)
class LockedOrderView:
    session: sessions_deps.LockedSessionView
    order: Order


async def _visible(order_id: int, db: SessionDep, principal: PrincipalDep) -> VisibleOrderView:
    session_id = await repo.session_id_of(db, order_id)
    view = await sessions_deps.visible_owner(db, principal, session_id, MISSING)
    return VisibleOrderView(view, await repo.get(db, order_id))  # read after settling


async def _locked(order_id: int, db: SessionDep, principal: PrincipalDep) -> LockedOrderView:
    session_id = await repo.session_id_of(db, order_id)
    view = await sessions_deps.locked_owner(db, principal, session_id, MISSING)
    return LockedOrderView(view, await repo.get(db, order_id))


VisibleOrder = Annotated[VisibleOrderView, Depends(_visible)]
LockedOrder = Annotated[LockedOrderView, Depends(_locked)]
