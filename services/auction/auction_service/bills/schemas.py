"""Bill, payment and settings shapes: request bodies and the `data` of responses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Protocol, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from servicekit.text import plain_text

from ..charges.schemas import ACCOUNT_DESCRIPTION, Account, ChargeKind, Payer
from ..envelope import CommissionerId, DbText, Money, Quantity, Rate, Timestamp, UuidText
from ..items.schemas import Unit
from ..masters.models import Farmer
from .models import MAX_CREDIT_DAYS, REFERENCE_MAX, Bill, BillCharge, BillItem, Payment
from .repository import BillingSettings

PaymentMethod = Literal["CASH", "BANK", "UPI", "CHEQUE"]
PaymentStatus = Literal["UNPAID", "PARTIAL", "PAID"]
BillStatus = Literal["ACTIVE", "VOID"]
PaymentTerms = Literal["SAME_DAY", "WITHIN_24_HOURS", "WITHIN_48_HOURS", "WITHIN_72_HOURS"]
# A bank transaction reference (UTR, cheque number...): one line of plain text.
Reference = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=REFERENCE_MAX),
    AfterValidator(plain_text),
]

# Inputs: exact decimals; more places than the column holds is a 400, never rounded away.
RateIn = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
AmountIn = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]
CreditDaysIn = Annotated[int, Field(ge=0, le=MAX_CREDIT_DAYS, strict=True)]
# The commission agent's trading name, one line of plain text like the masters' names.
BUSINESS_NAME_MAX = 120
BusinessName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=BUSINESS_NAME_MAX),
    AfterValidator(plain_text),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfileUpdate(_Body):
    max_commission_rate: RateIn | None = Field(
        default=None, description="Cap on the commission percent; null for none."
    )
    farmer_charges_allowed: StrictBool | None = Field(
        default=None, description="false: no charge may be put on the farmer."
    )

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        if (
            "farmer_charges_allowed" in self.model_fields_set
            and self.farmer_charges_allowed is None
        ):
            raise ValueError("farmer_charges_allowed may not be null")
        return self


class SettingsUpdate(_Body):
    """The fields sent are set, the others kept; at least one is needed."""

    commission_rate: RateIn | None = Field(default=None, examples=[5])
    commission_payer: Payer | None = None
    payment_terms: PaymentTerms | None = None
    buyer_credit_days: CreditDaysIn | None = Field(default=None, examples=[7])
    profile: ProfileUpdate | None = None
    business_name: BusinessName | None = Field(
        default=None,
        description="The trading name printed on bills and on their public copy; null clears it.",
        examples=["Sri Balaji Traders"],
    )

    @model_validator(mode="after")
    def _some_not_null(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("Send at least one setting")
        for name in self.model_fields_set - {"business_name"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self

    def values(self) -> dict[str, object]:
        """The settings columns to set."""
        values = self.model_dump(exclude_unset=True, exclude={"profile"})
        if self.profile is not None:
            values.update(self.profile.model_dump(exclude_unset=True))
        return values


class BillCreate(_Body):
    farmer_id: uuid.UUID
    commission_rate: RateIn | None = Field(
        default=None, description="Overrides the commissioner's setting for this bill only."
    )


class PaymentCreate(_Body):
    amount: AmountIn = Field(examples=[1000.0])
    method: PaymentMethod
    note: DbText | None = Field(default=None, max_length=1000)
    reference: Reference | None = Field(
        default=None,
        description="The bank's reference (UTR) of the transfer.",
        examples=["UTIBR52026120112345"],
    )


class ProfileOut(BaseModel):
    max_commission_rate: Rate | None = Field(description="Cap on the commission percent")
    farmer_charges_allowed: bool


class SettingsOut(BaseModel):
    commission_rate: Rate = Field(examples=[5.0])
    commission_payer: Payer
    payment_terms: PaymentTerms = Field(
        description="When a farmer is paid, counted from the end of the sale day (UTC)"
    )
    buyer_credit_days: int = Field(
        description="Days after the sale day (UTC date) by which a buyer pays an invoice",
        examples=[0],
    )
    profile: ProfileOut
    business_name: str | None = Field(
        description="The trading name on bills and their public copy; null when none is set",
        examples=["Sri Balaji Traders"],
    )


def settings_out(s: BillingSettings) -> SettingsOut:
    return SettingsOut(
        commission_rate=s.commission_rate,
        commission_payer=s.commission_payer,  # type: ignore[arg-type]  # CHECK holds the values
        payment_terms=s.payment_terms,  # type: ignore[arg-type]
        buyer_credit_days=s.buyer_credit_days,
        profile=ProfileOut(
            max_commission_rate=s.max_commission_rate,
            farmer_charges_allowed=s.farmer_charges_allowed,
        ),
        business_name=s.business_name,
    )


class FarmerRef(BaseModel):
    id: UuidText
    name: str
    phone: str | None = None
    village: str | None = None


class ProductRef(BaseModel):
    id: UuidText
    name: str


class BillItemOut(BaseModel):
    id: UuidText
    bill_id: UuidText
    auction_item_id: UuidText
    product_id: UuidText
    product_name: str
    product: ProductRef
    unit: Unit
    quantity: Quantity
    amount: Money
    created_at: Timestamp


class PaymentOut(BaseModel):
    id: UuidText
    bill_id: UuidText
    amount: Money
    method: PaymentMethod
    note: str | None
    reference: str | None
    created_at: Timestamp
    updated_at: Timestamp


class ChargeLineFields(BaseModel):
    """A document's line (a farmer bill's or a buyer invoice's): the commission or a charge,
    as it was when the document was made. Each document says whose side it is (`payer`)."""

    type: Literal["COMMISSION", "CHARGE"]
    charge_id: UuidText | None = Field(description="The charge it came from; null for commission")
    name: str
    kind: ChargeKind
    unit: Unit | None
    basis: Quantity = Field(
        description="PERCENT: the lots total; PER_UNIT: quantity in `unit`; FIXED_PER_LOT: lots"
    )
    rate: Rate
    amount: Money
    account: Account = Field(description=ACCOUNT_DESCRIPTION + "; the commission is AGENT")


class ChargeLineOut(ChargeLineFields):
    """One farmer-side deduction on a bill: the commission (when the farmer pays it) or a
    charge, as it was when the bill was made."""

    payer: Literal["FARMER"]


class SnapshotLine(Protocol):
    """A stored charge line (`bill_charges`, `invoice_charges`)."""

    charge_id: uuid.UUID
    name: str
    kind: str
    unit: str | None
    basis: Decimal
    rate: Decimal
    amount: Decimal
    account: str


def commission_line_fields(basis: Decimal, rate: Decimal, amount: Decimal) -> dict[str, Any]:
    """The commission as a line: a percent of the lots, the agent's own money."""
    return {
        "type": "COMMISSION",
        "charge_id": None,
        "name": "Commission",
        "kind": "PERCENT",
        "unit": None,
        "basis": basis,
        "rate": rate,
        "amount": amount,
        "account": "AGENT",
    }


def charge_line_fields(line: SnapshotLine) -> dict[str, Any]:
    """A stored charge line's fields (the columns' CHECKs hold the literal values)."""
    return {
        "type": "CHARGE",
        "charge_id": str(line.charge_id),
        "name": line.name,
        "kind": line.kind,
        "unit": line.unit,
        "basis": line.basis,
        "rate": line.rate,
        "amount": line.amount,
        "account": line.account,
    }


class BillStatusOut(BaseModel):
    """The bill's money state after a payment."""

    id: UuidText
    bill_number: str
    net_amount: Money
    paid_amount: Money
    balance_amount: Money
    payment_status: PaymentStatus
    status: BillStatus


class PaymentCreated(PaymentOut):
    bill: BillStatusOut


class BillOut(BaseModel):
    id: UuidText
    bill_number: str
    commissioner_id: CommissionerId
    session_id: UuidText
    farmer_id: UuidText
    total_amount: Money
    commission_rate: Rate
    commission_amount: Money = Field(description="total x commission_rate, whoever pays it")
    commission_payer: Payer
    charges_amount: Money = Field(description="Sum of the farmer-side charge lines")
    deductions_amount: Money = Field(
        description="Sum of `charges` (commission included when the farmer pays it)"
    )
    net_amount: Money = Field(description="total_amount - deductions_amount")
    paid_amount: Money
    balance_amount: Money = Field(description="net_amount - paid_amount: still owed to the farmer")
    payment_status: PaymentStatus
    status: BillStatus
    due_at: Timestamp = Field(description="When the farmer must be paid (the payment terms)")
    overdue: bool = Field(description="Not fully paid and past due_at (at read time)")
    created_at: Timestamp
    updated_at: Timestamp
    farmer: FarmerRef
    bill_items: list[BillItemOut]
    charges: list[ChargeLineOut]
    payments: list[PaymentOut]
    verification_code: str = Field(
        description="The farmer's key to the signed public copy: GET /api/public/bills/{code}"
    )


def is_overdue(bill: Bill, now: datetime) -> bool:
    """Not fully paid (and not void) after its due time."""
    return bill.status == "ACTIVE" and bill.payment_status != "PAID" and now > bill.due_at


def _farmer_ref(farmer: Farmer) -> FarmerRef:
    return FarmerRef(
        id=str(farmer.id), name=farmer.name, phone=farmer.phone, village=farmer.village
    )


def bill_item_out(line: BillItem) -> BillItemOut:
    return BillItemOut(
        id=str(line.id),
        bill_id=str(line.bill_id),
        auction_item_id=str(line.auction_item_id),
        product_id=str(line.product_id),
        product_name=line.product_name,
        product=ProductRef(id=str(line.product_id), name=line.product_name),
        unit=line.unit,  # type: ignore[arg-type]  # copied from the validated item
        quantity=line.quantity,
        amount=line.amount,
        created_at=line.created_at,
    )


def payment_out(payment: Payment) -> PaymentOut:
    return PaymentOut(
        id=str(payment.id),
        bill_id=str(payment.bill_id),
        amount=payment.amount,
        method=payment.method,  # type: ignore[arg-type]  # the column's CHECK holds the values
        note=payment.note,
        reference=payment.reference,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
    )


def bill_status_out(bill: Bill) -> BillStatusOut:
    return BillStatusOut(
        id=str(bill.id),
        bill_number=bill.bill_number,
        net_amount=bill.net_amount,
        paid_amount=bill.paid_amount,
        balance_amount=bill.net_amount - bill.paid_amount,
        payment_status=bill.payment_status,  # type: ignore[arg-type]
        status=bill.status,  # type: ignore[arg-type]
    )


def charge_lines_out(bill: Bill) -> list[ChargeLineOut]:
    """The commission first (when the farmer pays it), then the charges in their order."""
    lines = []
    if bill.commission_payer == "FARMER":
        commission = commission_line_fields(
            bill.total_amount, bill.commission_rate, bill.commission_amount
        )
        lines.append(ChargeLineOut(**commission, payer="FARMER"))
    lines.extend(charge_line_out(line) for line in bill.charges)
    return lines


def charge_line_out(line: BillCharge) -> ChargeLineOut:
    return ChargeLineOut(**charge_line_fields(line), payer="FARMER")


def bill_out(bill: Bill, now: datetime | None = None) -> BillOut:
    """Needs `farmer`, `bill_items`, `charges` and `payments` loaded (repository.BILL_LOAD)."""
    now = now or datetime.now(UTC)
    return BillOut(
        id=str(bill.id),
        bill_number=bill.bill_number,
        commissioner_id=str(bill.commissioner_id),
        session_id=str(bill.session_id),
        farmer_id=str(bill.farmer_id),
        total_amount=bill.total_amount,
        commission_rate=bill.commission_rate,
        commission_amount=bill.commission_amount,
        commission_payer=bill.commission_payer,  # type: ignore[arg-type]
        charges_amount=bill.charges_amount,
        deductions_amount=bill.total_amount - bill.net_amount,
        net_amount=bill.net_amount,
        paid_amount=bill.paid_amount,
        balance_amount=bill.net_amount - bill.paid_amount,
        payment_status=bill.payment_status,  # type: ignore[arg-type]
        status=bill.status,  # type: ignore[arg-type]
        due_at=bill.due_at,
        overdue=is_overdue(bill, now),
        created_at=bill.created_at,
        updated_at=bill.updated_at,
        farmer=_farmer_ref(bill.farmer),
        bill_items=[bill_item_out(line) for line in bill.bill_items],
        charges=charge_lines_out(bill),
        payments=[payment_out(p) for p in bill.payments],
        verification_code=bill.verification_code,
    )
