"""Buyer invoices and collections: thin routes over `service` (the twins of the bill routes)."""

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
from .repository import InvoiceFilters
from .schemas import (
    CollectionCreate,
    CollectionCreated,
    CollectionOut,
    CollectionStatus,
    InvoiceCreate,
    InvoiceOut,
    InvoiceStatus,
    collection_out,
    invoice_out,
    invoice_status_out,
)

router = APIRouter(tags=["buyer-invoices"])

BuyerIdQ = Annotated[uuid.UUID | None, Query()]
CollectionStatusQ = Annotated[CollectionStatus | None, Query()]
StatusQ = Annotated[InvoiceStatus | None, Query()]


@router.post(
    "/api/sessions/{session_id}/buyer-invoices",
    status_code=201,
    openapi_extra=IDEMPOTENCY_KEY,
    response_model=Envelope[InvoiceOut],
    responses=error_responses(404, 409, 422),
)
async def create_buyer_invoice(
    session_id: str,
    body: InvoiceCreate,
    request: Request,
    db: SessionDep,
    principal: CommissionerDep,
) -> JSONResponse:
    """Invoice every uninvoiced lot of one buyer in the session (Idempotency-Key supported)."""
    sid = parse_id(session_id, "Session")

    async def handler() -> Envelope[InvoiceOut]:
        invoice = await service.generate_invoice(db, principal.user_id, sid, body.buyer_id)
        return ok(invoice_out(invoice))

    return await idempotent_create(db, request, principal, handler)


@router.get(
    "/api/sessions/{session_id}/buyer-invoices",
    response_model=ListEnvelope[InvoiceOut],
    responses=error_responses(404),
)
async def list_session_buyer_invoices(
    session_id: str,
    db: SessionDep,
    principal: CommissionerDep,
    page: PageDep,
    buyer_id: BuyerIdQ = None,
    collection_status: CollectionStatusQ = None,
    status: StatusQ = None,
) -> ListEnvelope[InvoiceOut]:
    """The session's buyer invoices, newest number first, filtered by buyer and statuses."""
    filters = InvoiceFilters(buyer_id=buyer_id, collection_status=collection_status, status=status)
    invoices, total = await service.list_session_invoices(
        db,
        principal.user_id,
        parse_id(session_id, "Session"),
        filters,
        page=page.page,
        limit=page.limit,
    )
    data = [invoice_out(i) for i in invoices]
    return ok_list(data, page=page.page, limit=page.limit, total=total)


@router.get(
    "/api/buyer-invoices",
    response_model=ListEnvelope[InvoiceOut],
    responses=error_responses(),
)
async def list_buyer_invoices(
    db: SessionDep,
    principal: CommissionerDep,
    page: PageDep,
    session_id: Annotated[uuid.UUID | None, Query()] = None,
    buyer_id: BuyerIdQ = None,
    collection_status: CollectionStatusQ = None,
    status: StatusQ = None,
) -> ListEnvelope[InvoiceOut]:
    """List buyer invoices, newest number first, filtered by session, buyer and statuses."""
    filters = InvoiceFilters(
        session_id=session_id,
        buyer_id=buyer_id,
        collection_status=collection_status,
        status=status,
    )
    invoices, total = await service.list_invoices(
        db, principal.user_id, filters, page=page.page, limit=page.limit
    )
    data = [invoice_out(i) for i in invoices]
    return ok_list(data, page=page.page, limit=page.limit, total=total)


@router.get(
    "/api/buyer-invoices/{invoice_id}",
    response_model=Envelope[InvoiceOut],
    responses=error_responses(404),
)
async def get_buyer_invoice(
    invoice_id: str, db: SessionDep, principal: CommissionerDep
) -> Envelope[InvoiceOut]:
    """One buyer invoice with its buyer, lots, charge lines and collections."""
    invoice = await service.get_invoice(
        db, principal.user_id, parse_id(invoice_id, "Buyer invoice")
    )
    return ok(invoice_out(invoice))


@router.delete(
    "/api/buyer-invoices/{invoice_id}",
    response_model=Envelope[MessageData],
    responses=error_responses(404, 409),
)
async def delete_buyer_invoice(
    invoice_id: str, db: SessionDep, principal: CommissionerDep
) -> Envelope[MessageData]:
    """Void an invoice without collections: it keeps its number and its lots become
    uninvoiced."""
    await service.void_invoice(db, principal.user_id, parse_id(invoice_id, "Buyer invoice"))
    return message("Buyer invoice voided successfully")


@router.post(
    "/api/buyer-invoices/{invoice_id}/collections",
    status_code=201,
    openapi_extra=IDEMPOTENCY_KEY,
    response_model=Envelope[CollectionCreated],
    responses=error_responses(404, 409, 422),
)
async def create_collection(
    invoice_id: str,
    body: CollectionCreate,
    request: Request,
    db: SessionDep,
    principal: CommissionerDep,
) -> JSONResponse:
    """Record money received from the buyer against the invoice (Idempotency-Key supported)."""
    iid = parse_id(invoice_id, "Buyer invoice")

    async def handler() -> Envelope[CollectionCreated]:
        collection, invoice = await service.add_collection(
            db, principal.user_id, iid, body.amount, body.method, body.note, body.reference
        )
        data = CollectionCreated(
            **collection_out(collection).model_dump(), invoice=invoice_status_out(invoice)
        )
        return ok(data)

    return await idempotent_create(db, request, principal, handler)


@router.get(
    "/api/buyer-invoices/{invoice_id}/collections",
    response_model=Envelope[list[CollectionOut]],
    responses=error_responses(404),
)
async def list_collections(
    invoice_id: str, db: SessionDep, principal: CommissionerDep
) -> Envelope[list[CollectionOut]]:
    """The invoice's collections, oldest first."""
    invoice = await service.get_invoice(
        db, principal.user_id, parse_id(invoice_id, "Buyer invoice")
    )
    return ok([collection_out(c) for c in invoice.collections])
