"""The public, signed copy of a bill: what a farmer (or anyone holding the code) may see.

Only this bill's own facts: no row ids, no farmer phone or village, no payment notes; the
commissioner is named by id and by the business name of their settings (null when none is
set), as it is when the copy is served and signed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..bills.models import Bill
from ..bills.schemas import BillStatus, PaymentMethod, PaymentStatus, charge_lines_out
from ..charges.schemas import ChargeKind
from ..envelope import CommissionerId, Meta, Money, Quantity, Rate, Timestamp
from ..items.schemas import Unit


class PublicCommissioner(BaseModel):
    id: CommissionerId
    name: str | None = Field(
        default=None,
        description="The commission agent's business name (settings), null when none is set",
    )


class PublicFarmer(BaseModel):
    name: str


class PublicLot(BaseModel):
    product_name: str
    unit: Unit
    quantity: Quantity
    amount: Money


class PublicCharge(BaseModel):
    """A deduction from the farmer's total: the commission (when the farmer pays it) or a
    farmer-side charge, as on the bill (bills.schemas.charge_lines_out), without ids."""

    name: str
    kind: ChargeKind
    payer: Literal["FARMER", "BUYER"]
    unit: Unit | None
    basis: Quantity = Field(
        description="PERCENT: the lots total; PER_UNIT: quantity in `unit`; FIXED_PER_LOT: lots"
    )
    rate: Rate = Field(description="PERCENT: percent; otherwise money per unit or per lot")
    amount: Money


class PublicPayment(BaseModel):
    amount: Money
    method: PaymentMethod
    paid_at: Timestamp


class PublicBill(BaseModel):
    verification_code: str
    bill_number: str
    bill_date: Timestamp
    commissioner: PublicCommissioner
    farmer: PublicFarmer
    lots: list[PublicLot]
    total_amount: Money
    charges: list[PublicCharge]
    net_amount: Money
    paid_amount: Money
    balance_amount: Money
    payments: list[PublicPayment]
    payment_status: PaymentStatus
    status: BillStatus


class BillSignature(BaseModel):
    alg: Literal["EdDSA"] = "EdDSA"
    kid: str = Field(description="RFC 7638 thumbprint of the key in the JWKS")
    value: str = Field(
        description="base64url Ed25519 signature of the RFC 8785 canonical JSON of `data`"
    )


class SignedBillEnvelope(BaseModel):
    """The seed's envelope plus `signature` over `data`."""

    success: Literal[True] = True
    data: PublicBill
    signature: BillSignature
    meta: Meta = Field(default_factory=Meta)


class Jwk(BaseModel):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str


class JwksOut(BaseModel):
    keys: list[Jwk]


def public_bill(bill: Bill, business_name: str | None) -> PublicBill:
    """Needs the bill's farmer, lines and payments loaded (bills.repository.BILL_LOAD), and
    the commissioner's business name."""
    return PublicBill(
        verification_code=bill.verification_code,
        bill_number=bill.bill_number,
        bill_date=bill.created_at,
        commissioner=PublicCommissioner(id=str(bill.commissioner_id), name=business_name),
        farmer=PublicFarmer(name=bill.farmer.name),
        lots=[
            PublicLot(
                product_name=line.product_name,
                unit=line.unit,  # type: ignore[arg-type]  # copied from the validated item
                quantity=line.quantity,
                amount=line.amount,
            )
            for line in bill.bill_items
        ],
        total_amount=bill.total_amount,
        charges=[
            PublicCharge(
                name=line.name,
                kind=line.kind,
                payer=line.payer,
                unit=line.unit,
                basis=line.basis,
                rate=line.rate,
                amount=line.amount,
            )
            for line in charge_lines_out(bill)
        ],
        net_amount=bill.net_amount,
        paid_amount=bill.paid_amount,
        balance_amount=bill.net_amount - bill.paid_amount,
        payments=[
            PublicPayment(amount=p.amount, method=p.method, paid_at=p.created_at)  # type: ignore[arg-type]
            for p in bill.payments
        ],
        payment_status=bill.payment_status,  # type: ignore[arg-type]
        status=bill.status,  # type: ignore[arg-type]
    )
