"""Auction item shapes: the lot as sent, and as shown with its farmer, product and buyer."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from servicekit.openapi import not_null

from ..bills.models import BILL_STATUSES, PAYMENT_STATUSES, Bill
from ..envelope import CommissionerId, Money, Quantity, Timestamp
from ..masters.schemas import BuyerBrief, FarmerBrief, ProductBrief
from .models import AuctionItem

Unit = Literal["KG", "QUINTAL", "TONNE", "BAG", "BOX", "CRATE", "DOZEN", "PIECE"]

# Exact decimals that fit the columns: more places is a 400, never rounded away.
QuantityIn = Annotated[Decimal, Field(gt=0, lt=Decimal("1e11"), decimal_places=3, examples=[50.5])]
PriceIn = Annotated[Decimal, Field(ge=0, lt=Decimal("1e12"), decimal_places=2, examples=[2525.0])]


class ItemCreate(BaseModel):
    farmer_id: uuid.UUID
    product_id: uuid.UUID
    buyer_id: uuid.UUID
    unit: Unit
    quantity: QuantityIn
    final_price: PriceIn = Field(description="The lot's total price")


class ItemUpdate(BaseModel):
    """Every field optional; a field sent as null is a 400."""

    model_config = ConfigDict(json_schema_extra=not_null())

    farmer_id: uuid.UUID | None = None
    product_id: uuid.UUID | None = None
    buyer_id: uuid.UUID | None = None
    unit: Unit | None = None
    quantity: QuantityIn | None = None
    final_price: PriceIn | None = None


class ItemBill(BaseModel):
    id: uuid.UUID
    bill_number: str
    payment_status: Annotated[str, WithJsonSchema({"type": "string", "enum": PAYMENT_STATUSES})]
    status: Annotated[str, WithJsonSchema({"type": "string", "enum": BILL_STATUSES})]


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    session_id: uuid.UUID
    commissioner_id: CommissionerId
    farmer_id: uuid.UUID
    product_id: uuid.UUID
    buyer_id: uuid.UUID
    unit: Unit
    quantity: Quantity
    final_price: Money
    bill_id: uuid.UUID | None
    invoice_id: uuid.UUID | None = Field(
        default=None, description="The active buyer invoice the lot is on"
    )
    created_at: Timestamp
    updated_at: Timestamp
    farmer: FarmerBrief
    product: ProductBrief
    buyer: BuyerBrief
    bill: ItemBill | None = None


def item_out(item: AuctionItem, bill: Bill | None) -> ItemOut:
    """Needs farmer, product.category and buyer loaded (see repository.ITEM_LOAD)."""
    out = ItemOut.model_validate(item)
    if bill is not None:
        out.bill = ItemBill(
            id=bill.id,
            bill_number=bill.bill_number,
            payment_status=bill.payment_status,
            status=bill.status,
        )
    return out
