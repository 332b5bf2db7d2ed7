"""`/reports/{id}` routes get the report through its session: the session's access rule
(owner or admin, else 403)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from ..dependencies import PrincipalDep, SessionDep
from ..sessions import dependencies as sessions_deps
from . import repository as repo
from .models import Report


@dataclass(frozen=True)
class VisibleReportView:
    session: sessions_deps.SessionView
    report: Report


async def _visible(report_id: int, db: SessionDep, principal: PrincipalDep) -> VisibleReportView:
    session_id = await repo.session_id_of(db, report_id)
    view = await sessions_deps.visible_owner(db, principal, session_id, "Report not found")
    report = await repo.get(db, report_id)
    assert report is not None  # reports are never deleted but with their session
    return VisibleReportView(view, report)


VisibleReport = Annotated[VisibleReportView, Depends(_visible)]
