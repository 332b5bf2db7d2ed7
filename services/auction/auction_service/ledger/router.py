"""The journal's views: verify, a farmer's ledger, the day book, outstanding bills.

Each list is the envelope with pagination; `Accept: text/csv` or the `.csv` path gives every
row (no paging) as CSV instead.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ..dependencies import CommissionerDep, SessionDep
from ..envelope import Envelope, ListEnvelope, error_responses, ok, ok_list
from ..masters.models import Buyer, Farmer
from ..masters.service import get_or_404
from ..pagination import Page, PageDep
from . import service
from .csvout import csv_response, wants_csv
from .schemas import (
    BuyerLedgerEntryOut,
    DayBookEnvelope,
    DayBookMeta,
    FarmerLedgerEntryOut,
    KindTotal,
    OutstandingBillOut,
    VerifyOut,
    buyer_entry_out,
    entry_out,
    farmer_entry_out,
    outstanding_out,
)

router = APIRouter(tags=["ledger"])

_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}
ENTRY_HEADER = (
    "seq",
    "at",
    "kind",
    "party_type",
    "party_id",
    "document_number",
    "amount",
    "hash",
)


def _entry_row(e: Any) -> list[object]:
    return [
        e.seq,
        service.at_text(e.at),
        e.kind,
        e.party_type,
        e.party_id,
        e.document_number,
        e.amount,
        e.hash,
    ]


@router.get("/api/ledger/verify", response_model=Envelope[VerifyOut], responses=error_responses())
async def verify_ledger(db: SessionDep, principal: CommissionerDep) -> Envelope[VerifyOut]:
    """Recompute the caller's hash chain: valid, entries checked, head hash, first broken seq."""
    result = await service.verify(db, principal.user_id)
    return ok(
        VerifyOut(
            valid=result.valid,
            entries=result.entries,
            head_hash=result.head_hash,
            first_broken_seq=result.first_broken_seq,
            reason=result.reason,
        )
    )


async def _party_ledger(
    request: Request,
    db: SessionDep,
    principal: CommissionerDep,
    page: Page | None,
    party: type[Farmer] | type[Buyer],
    party_id: str,
) -> Any:
    """A farmer's or a buyer's entries with the running balance, a page of them or, as CSV,
    every one."""
    owner: Farmer | Buyer = (
        await get_or_404(db, Farmer, principal.user_id, party_id)
        if party is Farmer
        else await get_or_404(db, Buyer, principal.user_id, party_id)
    )
    page = None if page is None or wants_csv(request) else page  # None: every row, as CSV
    rows, total = await service.party_ledger(
        db,
        principal.user_id,
        "FARMER" if party is Farmer else "BUYER",
        owner.id,
        offset=0 if page is None else page.offset,
        limit=None if page is None else page.limit,
    )
    if page is None:
        return csv_response(
            f"ledger-{owner.name}",
            (*ENTRY_HEADER[:-1], "balance", "hash"),
            ([*_entry_row(e)[:-1], balance, e.hash] for e, balance in rows),
        )
    entry_out = farmer_entry_out if party is Farmer else buyer_entry_out
    data = [entry_out(e, balance) for e, balance in rows]
    return ok_list(data, page=page.page, limit=page.limit, total=total)


@router.get(
    "/api/farmers/{farmer_id}/ledger",
    response_model=ListEnvelope[FarmerLedgerEntryOut],
    responses={**error_responses(404), **_CSV},
)
async def farmer_ledger(
    farmer_id: str, request: Request, db: SessionDep, principal: CommissionerDep, page: PageDep
) -> Any:
    """A farmer's journal entries, oldest first, with the running balance the agent owes."""
    return await _party_ledger(request, db, principal, page, Farmer, farmer_id)


@router.get(
    "/api/farmers/{farmer_id}/ledger.csv",
    response_class=Response,
    responses={**error_responses(404), **_CSV},
)
async def farmer_ledger_csv(
    farmer_id: str, request: Request, db: SessionDep, principal: CommissionerDep
) -> Any:
    """The farmer's ledger as CSV (every entry)."""
    return await _party_ledger(request, db, principal, None, Farmer, farmer_id)


@router.get(
    "/api/buyers/{buyer_id}/ledger",
    response_model=ListEnvelope[BuyerLedgerEntryOut],
    responses={**error_responses(404), **_CSV},
)
async def buyer_ledger(
    buyer_id: str, request: Request, db: SessionDep, principal: CommissionerDep, page: PageDep
) -> Any:
    """A buyer's journal entries, oldest first, with the running balance the buyer owes."""
    return await _party_ledger(request, db, principal, page, Buyer, buyer_id)


@router.get(
    "/api/buyers/{buyer_id}/ledger.csv",
    response_class=Response,
    responses={**error_responses(404), **_CSV},
)
async def buyer_ledger_csv(
    buyer_id: str, request: Request, db: SessionDep, principal: CommissionerDep
) -> Any:
    """The buyer's ledger as CSV (every entry)."""
    return await _party_ledger(request, db, principal, None, Buyer, buyer_id)


async def _day_book(
    request: Request, db: SessionDep, principal: CommissionerDep, page: Page | None, day: dt.date
) -> Any:
    page = None if page is None or wants_csv(request) else page  # None: every row, as CSV
    entries, total, totals = await service.day_book(
        db,
        principal.user_id,
        day,
        offset=0 if page is None else page.offset,
        limit=None if page is None else page.limit,
    )
    if page is None:
        return csv_response(f"day-book-{day.isoformat()}", ENTRY_HEADER, map(_entry_row, entries))
    base = ok_list([], page=page.page, limit=page.limit, total=total).meta
    meta = DayBookMeta(
        **base.model_dump(),
        day=day,
        totals=[KindTotal(kind=k, count=c, amount=a) for k, c, a in totals],
        net_amount=sum((a for _, _, a in totals), Decimal("0.00")),
    )
    return DayBookEnvelope(data=[entry_out(e) for e in entries], meta=meta)


DayQuery = Annotated[dt.date, Query(alias="date", description="A UTC calendar day, YYYY-MM-DD")]


@router.get(
    "/api/reports/day-book",
    response_model=DayBookEnvelope,
    responses={**error_responses(), **_CSV},
    tags=["reports"],
)
async def day_book(
    day: DayQuery, request: Request, db: SessionDep, principal: CommissionerDep, page: PageDep
) -> Any:
    """Every journal entry of one UTC day in seq order, with totals per kind."""
    return await _day_book(request, db, principal, page, day)


@router.get(
    "/api/reports/day-book.csv",
    response_class=Response,
    responses={**error_responses(), **_CSV},
    tags=["reports"],
)
async def day_book_csv(
    day: DayQuery, request: Request, db: SessionDep, principal: CommissionerDep
) -> Any:
    """The day book as CSV (every entry of the day)."""
    return await _day_book(request, db, principal, None, day)


OUTSTANDING_HEADER = (
    "bill_number",
    "date",
    "farmer_id",
    "farmer_name",
    "net_amount",
    "paid_amount",
    "outstanding_amount",
    "due_at",
    "overdue",
    # Added with buyer invoices: the farmer columns above stay first and as they were.
    "party_type",
    "invoice_number",
    "buyer_id",
    "buyer_name",
    "due_date",
)


async def _outstanding(
    request: Request, db: SessionDep, principal: CommissionerDep, page: Page | None
) -> Any:
    page = None if page is None or wants_csv(request) else page  # None: every row, as CSV
    now = dt.datetime.now(dt.UTC)
    rows, total = await service.outstanding(
        db,
        principal.user_id,
        now,
        offset=0 if page is None else page.offset,
        limit=None if page is None else page.limit,
    )
    data = [outstanding_out(row, now) for row in rows]
    if page is None:
        return csv_response(
            "outstanding",
            OUTSTANDING_HEADER,
            (
                [
                    o.bill_number,
                    service.at_text(o.date),
                    o.farmer and o.farmer.id,
                    o.farmer and o.farmer.name,
                    o.net_amount,
                    o.paid_amount,
                    o.outstanding_amount,
                    service.at_text(o.due_at),
                    o.overdue,
                    o.party_type,
                    o.invoice_number,
                    o.buyer and o.buyer.id,
                    o.buyer and o.buyer.name,
                    o.due_date and o.due_date.isoformat(),
                ]
                for o in data
            ),
        )
    return ok_list(data, page=page.page, limit=page.limit, total=total)


@router.get(
    "/api/reports/outstanding",
    response_model=ListEnvelope[OutstandingBillOut],
    responses={**error_responses(), **_CSV},
    tags=["reports"],
)
async def outstanding(
    request: Request, db: SessionDep, principal: CommissionerDep, page: PageDep
) -> Any:
    """Bills not yet fully paid to their farmer and buyer invoices not yet fully collected,
    overdue first, then by due time, then oldest first."""
    return await _outstanding(request, db, principal, page)


@router.get(
    "/api/reports/outstanding.csv",
    response_class=Response,
    responses={**error_responses(), **_CSV},
    tags=["reports"],
)
async def outstanding_csv(request: Request, db: SessionDep, principal: CommissionerDep) -> Any:
    """Outstanding bills and buyer invoices as CSV (every row)."""
    return await _outstanding(request, db, principal, None)
