"""`/orders/{id}` routes get the order through its session: the session's access rule (owner
or admin, else 403) and its settling, then the order as of now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from servicekit.errors import NotFound

from ..dependencies import PrincipalDep, SessionDep
from ..sessions import dependencies as sessions_deps
from . import repository as repo
from .models import Order


@dataclass(frozen=True)
class VisibleOrderView:
    session: sessions_deps.SessionView
    order: Order


@dataclass(frozen=True)
class LockedOrderView:
    session: sessions_deps.LockedSessionView
    order: Order


async def _session_id(db: SessionDep, order_id: int) -> int:
    session_id = await repo.session_id_of(db, order_id)
    if session_id is None:
        raise NotFound("Order not found")
    return session_id


async def _visible(order_id: int, db: SessionDep, principal: PrincipalDep) -> VisibleOrderView:
    view = await sessions_deps.visible(db, principal, await _session_id(db, order_id))
    return VisibleOrderView(view, await repo.get(db, order_id))  # read after settling


async def _locked(order_id: int, db: SessionDep, principal: PrincipalDep) -> LockedOrderView:
    view = await sessions_deps.locked(db, principal, await _session_id(db, order_id))
    return LockedOrderView(view, await repo.get(db, order_id))


VisibleOrder = Annotated[VisibleOrderView, Depends(_visible)]
LockedOrder = Annotated[LockedOrderView, Depends(_locked)]
