"""Reports API (SPEC 3 "Reports")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from servicekit.openapi import IDEMPOTENCY_KEY

from ..db import idempotency
from ..dependencies import PrincipalDep, SessionDep
from ..errors import responses
from ..sessions.dependencies import LockedSession, VisibleSession
from . import service
from .dependencies import VisibleReport
from .schemas import ReportList, ReportOut

router = APIRouter(tags=["reports"])

_ONE = responses(401, 403, 404, 422, not_found="Report not found")


@router.post(
    "/sessions/{session_id}/generate-report",
    status_code=201,
    openapi_extra=IDEMPOTENCY_KEY,
    response_model=ReportOut,
    responses=responses(400, 401, 403, 404, 409, 422),
)
async def generate_report(
    request: Request, db: SessionDep, principal: PrincipalDep, view: LockedSession
) -> Response:
    """Snapshot the session at its current bar: statistics, trades and the equity series
    (any status but DRAFT; honours Idempotency-Key)."""

    return await idempotency.respond(
        db, request, principal.user_id, lambda: service.generate(db, view)
    )


@router.get(
    "/sessions/{session_id}/reports",
    response_model=ReportList,
    responses=responses(401, 403, 404, 422),
)
async def list_reports(
    db: SessionDep,
    view: VisibleSession,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ReportList:
    """A session's reports, oldest first."""
    return await service.list_reports(db, view, page=page, limit=limit)


@router.get("/reports/{report_id}", response_model=ReportOut, responses=_ONE)
async def get_report(found: VisibleReport) -> ReportOut:
    """One report."""
    return service.out(found.report)


@router.get(
    "/reports/{report_id}/trades.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **_ONE},
)
async def report_trades_csv(found: VisibleReport) -> Response:
    """The report's trades as CSV (RFC 4180, UTF-8), one row per closed position."""
    name = f"session-{found.report.session_id}-report-{found.report.id}-trades.csv"
    return Response(
        service.trades_csv(found.report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/reports/{report_id}/equity.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}}, **_ONE},
)
async def report_equity_svg(found: VisibleReport) -> Response:
    """The equity curve with its drawdowns shaded, the peak and the maximum drawdown marked."""
    return Response(
        service.equity_svg(found.report).encode(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=86400"},  # a report never changes
    )
