"""Bills, payments and the commission setting: thin routes over `service`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from servicekit.openapi import IDEMPOTENCY_KEY

from ..dependencies import CommissionerDep, SessionDep
from ..envelope import (
    Envelope,
    ListEnvelope,
    MessageData,
    error_responses,
    message,
    ok,
    ok_list,
)
from ..idempotency import idempotent_create
from ..masters.service import parse_id
from ..pagination import PageDep
from . import service
from .repository import BillFilters
from .schemas import (
    BillCreate,
    BillOut,
    BillStatus,
    PaymentCreate,
    PaymentCreated,
    PaymentOut,
    PaymentStatus,
    SettingsOut,
    SettingsUpdate,
    bill_out,
    bill_status_out,
    payment_out,
    settings_out,
)

router = APIRouter(tags=["bills"])


@router.get(
    "/api/settings",
    response_model=Envelope[SettingsOut],
    responses=error_responses(),
    tags=["settings"],
)
async def get_settings(db: SessionDep, principal: CommissionerDep) -> Envelope[SettingsOut]:
    """The commissioner's billing settings: commission (a percent, 5 by default) and who pays
    it, payment terms, the profile (commission cap, charges on the farmer) and the business
    name printed on bills."""
    return ok(settings_out(await service.get_settings(db, principal.user_id)))


@router.put(
    "/api/settings",
    response_model=Envelope[SettingsOut],
    responses=error_responses(),
    tags=["settings"],
)
async def put_settings(
    body: SettingsUpdate, db: SessionDep, principal: CommissionerDep
) -> Envelope[SettingsOut]:
    """Set the settings sent (commission rate 0..100 with at most 2 decimals, its payer,
    payment terms, profile for new bills; the business name, 1..120 characters, null clears
    it); the others are kept."""
    settings = await service.update_settings(db, principal.user_id, body.values())
    return ok(settings_out(settings))


@router.post(
    "/api/sessions/{session_id}/bills",
    status_code=201,
    openapi_extra=IDEMPOTENCY_KEY,
    response_model=Envelope[BillOut],
    responses=error_responses(404, 409, 422),
)
async def create_bill(
    session_id: str,
    body: BillCreate,
    request: Request,
    db: SessionDep,
    principal: CommissionerDep,
) -> JSONResponse:
    """Bill every unbilled item of one farmer in the session (Idempotency-Key supported)."""
    sid = parse_id(session_id, "Session")

    async def handler() -> Envelope[BillOut]:
        bill = await service.generate_bill(
            db, principal.user_id, sid, body.farmer_id, body.commission_rate
        )
        return ok(bill_out(bill))

    return await idempotent_create(db, request, principal, handler)


@router.get(
    "/api/bills",
    response_model=ListEnvelope[BillOut],
    responses=error_responses(),
)
async def list_bills(
    db: SessionDep,
    principal: CommissionerDep,
    page: PageDep,
    session_id: Annotated[uuid.UUID | None, Query()] = None,
    farmer_id: Annotated[uuid.UUID | None, Query()] = None,
    payment_status: Annotated[PaymentStatus | None, Query()] = None,
    status: Annotated[BillStatus | None, Query()] = None,
) -> ListEnvelope[BillOut]:
    """List bills, newest number first, filtered by session, farmer, payment status, status."""
    filters = BillFilters(
        session_id=session_id, farmer_id=farmer_id, payment_status=payment_status, status=status
    )
    bills, total = await service.list_bills(
        db, principal.user_id, filters, page=page.page, limit=page.limit
    )
    return ok_list([bill_out(b) for b in bills], page=page.page, limit=page.limit, total=total)


@router.get(
    "/api/bills/{bill_id}",
    response_model=Envelope[BillOut],
    responses=error_responses(404),
)
async def get_bill(bill_id: str, db: SessionDep, principal: CommissionerDep) -> Envelope[BillOut]:
    """One bill with its farmer, items and payments."""
    bill = await service.get_bill(db, principal.user_id, parse_id(bill_id, "Bill"))
    return ok(bill_out(bill))


@router.delete(
    "/api/bills/{bill_id}",
    response_model=Envelope[MessageData],
    responses=error_responses(404, 409),
)
async def delete_bill(
    bill_id: str, db: SessionDep, principal: CommissionerDep
) -> Envelope[MessageData]:
    """Void a bill without payments: it keeps its number and its items become unbilled."""
    await service.void_bill(db, principal.user_id, parse_id(bill_id, "Bill"))
    return message("Bill voided successfully")


@router.post(
    "/api/bills/{bill_id}/payments",
    status_code=201,
    openapi_extra=IDEMPOTENCY_KEY,
    response_model=Envelope[PaymentCreated],
    responses=error_responses(404, 409, 422),
)
async def create_payment(
    bill_id: str,
    body: PaymentCreate,
    request: Request,
    db: SessionDep,
    principal: CommissionerDep,
) -> JSONResponse:
    """Record a payout to the farmer against the bill (Idempotency-Key supported)."""
    bid = parse_id(bill_id, "Bill")

    async def handler() -> Envelope[PaymentCreated]:
        payment, bill = await service.add_payment(
            db, principal.user_id, bid, body.amount, body.method, body.note, body.reference
        )
        data = PaymentCreated(**payment_out(payment).model_dump(), bill=bill_status_out(bill))
        return ok(data)

    return await idempotent_create(db, request, principal, handler)


@router.get(
    "/api/bills/{bill_id}/payments",
    response_model=Envelope[list[PaymentOut]],
    responses=error_responses(404),
)
async def list_payments(
    bill_id: str, db: SessionDep, principal: CommissionerDep
) -> Envelope[list[PaymentOut]]:
    """The bill's payments, oldest first."""
    bill = await service.get_bill(db, principal.user_id, parse_id(bill_id, "Bill"))
    return ok([payment_out(p) for p in bill.payments])
