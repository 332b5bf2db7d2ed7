"""Public (no login) bill verification and its JWKS; the commissioner's printable bill."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from ..dependencies import CommissionerDep, SessionDep
from ..envelope import ErrorEnvelope, Meta, error_responses
from ..masters.service import parse_id
from . import service
from .keys import BillSigner
from .printing import CSP
from .schemas import JwksOut, SignedBillEnvelope

router = APIRouter(tags=["public"])

PUBLIC_BILL_PATH = "/api/public/bills/{code}"
PUBLIC_JWKS_PATH = "/api/public/.well-known/jwks.json"
# No token on these: nothing here depends on the authenticator, so OpenAPI says security: [].
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorEnvelope, "description": "Not found"}
}


def _signer(request: Request) -> BillSigner:
    signer: BillSigner = request.app.state.bill_signer
    return signer


@router.get(PUBLIC_BILL_PATH, response_model=SignedBillEnvelope, responses=_NOT_FOUND)
async def public_bill(code: str, request: Request, db: SessionDep) -> JSONResponse:
    """A bill by its verification code, signed (no login): `signature` covers `data`."""
    data, signature = await service.signed_public_bill(
        db, request.app.state.db, _signer(request), code
    )
    body = {"success": True, "data": data, "signature": signature, "meta": Meta().model_dump()}
    headers = {
        "Cache-Control": "no-store",
        "X-Robots-Tag": "noindex",
        "Bill-Signature": f'alg="EdDSA", kid="{signature["kid"]}", value="{signature["value"]}"',
    }
    return JSONResponse(body, headers=headers)


@router.get(PUBLIC_JWKS_PATH, response_model=JwksOut)
async def public_jwks(request: Request) -> JSONResponse:
    """The public keys bills are signed with (OKP Ed25519, kid = RFC 7638 thumbprint)."""
    jwks = await _signer(request).jwks(request.app.state.db)
    return JSONResponse(jwks, headers={"Cache-Control": "public, max-age=300"})


@router.get(
    "/api/bills/{bill_id}/print",
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "The printable bill"},
        **error_responses(404),
    },
    tags=["bills"],
)
async def print_bill(
    bill_id: str, request: Request, db: SessionDep, principal: CommissionerDep
) -> HTMLResponse:
    """The bill as one printable HTML page with a QR code of its verification URL."""
    html = await service.print_bill(
        db,
        principal.user_id,
        parse_id(bill_id, "Bill"),
        request.app.state.settings.public_base_url,
    )
    return HTMLResponse(
        html, headers={"Content-Security-Policy": CSP, "Cache-Control": "private, no-store"}
    )
