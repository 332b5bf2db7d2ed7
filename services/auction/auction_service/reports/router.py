"""The reports over a range of session days: commission and the market-fee register.

JSON in the envelope, or with `Accept: text/csv` or the `.csv` path every row as CSV (the
journal views' CSV: ledger.csvout, its formula guard included). CSV rows carry a first column
`line` saying what the row is: a day or a lot, then the subtotals and the grand total.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from ..dependencies import CommissionerDep, SessionDep
from ..envelope import Envelope, error_responses, ok, ok_list
from ..ledger.csvout import csv_response, wants_csv
from ..pagination import Page, PageDep
from . import service
from .schemas import (
    CommissionReportOut,
    MarketFeeDay,
    MarketFeeEnvelope,
    MarketFeeMeta,
    commission_report_out,
    market_fee_figures_out,
    market_fee_lot_out,
)
from .service import DateRange

router = APIRouter(tags=["reports"])

CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}

FromQ = Annotated[
    dt.date | None,
    Query(
        alias="from",
        description="First session day (UTC), YYYY-MM-DD; default the first of `to`'s month",
    ),
]
ToQ = Annotated[
    dt.date | None,
    Query(
        alias="to",
        description=f"Last session day (UTC), included; default today. At most "
        f"{service.MAX_DAYS} days from `from`",
    ),
]


def _period(first: FromQ = None, last: ToQ = None) -> DateRange:
    """`from`/`to` checked once for every report (400 VALIDATION_ERROR naming the one)."""
    return service.date_range(first, last, dt.datetime.now(dt.UTC).date())


PeriodDep = Annotated[DateRange, Depends(_period)]


def _filename(name: str, period: DateRange) -> str:
    return f"{name}-{period.first.isoformat()}-{period.last.isoformat()}"


# --- commission ------------------------------------------------------------------------

COMMISSION_FIGURES = (
    "lots_count",
    "lots_amount",
    "bills_count",
    "billed_amount",
    "invoices_count",
    "invoiced_amount",
    "farmer_commission",
    "buyer_commission",
    "commission",
    "farmer_agent_charges",
    "buyer_agent_charges",
    "agent_charges",
    "income",
)
COMMISSION_HEADER = ("line", "day", *COMMISSION_FIGURES)


async def _commission(
    request: Request, db: SessionDep, principal: CommissionerDep, period: DateRange, csv: bool
) -> Any:
    report = await service.commission_report(db, principal.user_id, period)
    if csv or wants_csv(request):
        rows: list[list[object]] = [
            ["DAY", day, *(getattr(f, name) for name in COMMISSION_FIGURES)]
            for day, f in report.days
        ]
        rows.append(["TOTAL", None, *(getattr(report.totals, n) for n in COMMISSION_FIGURES)])
        return csv_response(_filename("commission", period), COMMISSION_HEADER, rows)
    return ok(commission_report_out(report, period))


@router.get(
    "/api/reports/commission",
    response_model=Envelope[CommissionReportOut],
    responses={**error_responses(), **CSV_RESPONSE},
)
async def commission_report(
    request: Request, db: SessionDep, principal: CommissionerDep, period: PeriodDep
) -> Any:
    """Commission, the agent's own charges and income per session day (ACTIVE documents)."""
    return await _commission(request, db, principal, period, csv=False)


@router.get(
    "/api/reports/commission.csv",
    response_class=Response,
    responses={**error_responses(), **CSV_RESPONSE},
)
async def commission_report_csv(
    request: Request, db: SessionDep, principal: CommissionerDep, period: PeriodDep
) -> Any:
    """The commission report as CSV: a DAY row per day, then the TOTAL row."""
    return await _commission(request, db, principal, period, csv=True)


# --- market fee ------------------------------------------------------------------------

MARKET_FEE_HEADER = (
    "line",
    "day",
    "lot_id",
    "bill_number",
    "invoice_number",
    "farmer_name",
    "buyer_name",
    "product_name",
    "quantity",
    "unit",
    "lots",
    "amount",
    "farmer_paid_fee",
    "buyer_paid_fee",
    "market_fee",
)
QUANTITY = Decimal("0.001")


def _market_fee_rows(register: service.MarketFeeRegister) -> Iterator[list[object]]:
    """Each day's lots, then its DAY_TOTAL row; the TOTAL row last."""
    lots_by_day = {
        day: list(lots) for day, lots in itertools.groupby(register.lots, lambda x: x.row.day)
    }
    for day, f in register.days:
        for lot in lots_by_day.get(day, []):
            r = lot.row
            yield [
                "LOT",
                day,
                r.id,
                r.bill_number,
                r.invoice_number,
                r.farmer_name,
                r.buyer_name,
                r.product_name,
                f"{r.quantity.quantize(QUANTITY):f}",  # 3 places (csvout writes money with 2)
                r.unit,
                1,
                r.final_price,
                lot.farmer_paid_fee,
                lot.buyer_paid_fee,
                lot.market_fee,
            ]
        yield ["DAY_TOTAL", day, *[None] * 8, f.lots_count, f.lots_amount, *_fees(f)]
    t = register.totals
    yield ["TOTAL", *[None] * 9, t.lots_count, t.lots_amount, *_fees(t)]


def _fees(f: service.MarketFeeFigures) -> tuple[Decimal, Decimal, Decimal]:
    return f.farmer_paid_fee, f.buyer_paid_fee, f.market_fee


async def _market_fee(
    request: Request,
    db: SessionDep,
    principal: CommissionerDep,
    period: DateRange,
    page: Page | None,
) -> Any:
    page = None if page is None or wants_csv(request) else page  # None: every row, as CSV
    register = await service.market_fee_register(
        db,
        principal.user_id,
        period,
        offset=0 if page is None else page.offset,
        limit=None if page is None else page.limit,
    )
    if page is None:
        return csv_response(
            _filename("market-fee", period), MARKET_FEE_HEADER, _market_fee_rows(register)
        )
    base = ok_list([], page=page.page, limit=page.limit, total=register.total_lots).meta
    meta = MarketFeeMeta(
        **base.model_dump(),
        from_date=period.first,
        to_date=period.last,
        days=[
            MarketFeeDay(day=day, **market_fee_figures_out(f).model_dump())
            for day, f in register.days
        ],
        totals=market_fee_figures_out(register.totals),
    )
    return MarketFeeEnvelope(data=[market_fee_lot_out(lot) for lot in register.lots], meta=meta)


MARKET_FEE_DESCRIPTION = (
    "One row per lot sold in the range's sessions (billed or not), with the market fee "
    "charged on it: the lot's share of the MARKET_YARD charge lines of its ACTIVE farmer bill "
    "(`farmer_paid_fee`) and of its ACTIVE buyer invoice (`buyer_paid_fee`). A line is "
    "apportioned to its document's lots by the basis it was computed on (PERCENT: each lot's "
    "amount; PER_UNIT: each lot's quantity in the charge's unit; FIXED_PER_LOT: equally), in "
    "cents by the largest-remainder rule (floors of the exact shares, the cents left one each "
    "to the largest remainders, the lot entered first on a tie), so a "
    "document's lots add up exactly to its lines. `meta` carries the totals per day and "
    "overall over the whole range."
)


@router.get(
    "/api/reports/market-fee",
    response_model=MarketFeeEnvelope,
    responses={**error_responses(), **CSV_RESPONSE},
    summary="The market-fee register: each lot sold with its market fee, totals per day",
    description=MARKET_FEE_DESCRIPTION,
)
async def market_fee_register(
    request: Request,
    db: SessionDep,
    principal: CommissionerDep,
    period: PeriodDep,
    page: PageDep,
) -> Any:
    return await _market_fee(request, db, principal, period, page)


@router.get(
    "/api/reports/market-fee.csv",
    response_class=Response,
    responses={**error_responses(), **CSV_RESPONSE},
    summary="The market-fee register as CSV: each day's LOT rows, its DAY_TOTAL, then TOTAL",
    description=MARKET_FEE_DESCRIPTION,
)
async def market_fee_register_csv(
    request: Request, db: SessionDep, principal: CommissionerDep, period: PeriodDep
) -> Any:
    return await _market_fee(request, db, principal, period, None)
