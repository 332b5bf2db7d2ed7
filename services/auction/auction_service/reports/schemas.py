"""Report shapes: the commission report and the market-fee register."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from ..envelope import ListMeta, Money, Quantity, UuidText
from ..items.schemas import Unit
from . import service


class CommissionFigures(BaseModel):
    """One day's (or the range's) commission and the agent's own charges.

    Only ACTIVE bills and invoices count; a void one counts nowhere."""

    lots_count: int = Field(description="Lots sold in the day's sessions, billed or not")
    lots_amount: Money = Field(description="Σ final_price of those lots")
    bills_count: int = Field(description="ACTIVE farmer bills")
    billed_amount: Money = Field(description="Σ total_amount of those bills")
    invoices_count: int = Field(description="ACTIVE buyer invoices")
    invoiced_amount: Money = Field(description="Σ lots_amount of those invoices")
    farmer_commission: Money = Field(
        description="Commission on the bills the farmer pays (commission_payer FARMER)"
    )
    buyer_commission: Money = Field(description="Commission on the buyer invoices")
    commission: Money = Field(description="farmer_commission + buyer_commission")
    farmer_agent_charges: Money = Field(
        description="Σ the bills' charge lines whose account is AGENT"
    )
    buyer_agent_charges: Money = Field(
        description="Σ the invoices' charge lines whose account is AGENT"
    )
    agent_charges: Money = Field(description="farmer_agent_charges + buyer_agent_charges")
    income: Money = Field(description="commission + agent_charges: the agent's own income")


class CommissionDay(CommissionFigures):
    day: dt.date = Field(description="The sessions' UTC calendar day")


class CommissionReportOut(BaseModel):
    from_date: dt.date = Field(description="First session day included (`?from=`)")
    to_date: dt.date = Field(description="Last session day included (`?to=`)")
    days: list[CommissionDay] = Field(description="Days with lots or documents, oldest first")
    totals: CommissionFigures


class MarketFeeLotOut(BaseModel):
    """One lot sold, its documents, and the market fee charged on it."""

    day: dt.date = Field(description="The session's UTC calendar day")
    lot_id: UuidText
    bill_id: UuidText | None = Field(description="The lot's ACTIVE farmer bill, if billed")
    bill_number: str | None = Field(examples=["BILL-001"])
    invoice_id: UuidText | None = Field(description="The lot's ACTIVE buyer invoice, if any")
    invoice_number: str | None = Field(examples=["INV-001"])
    farmer_id: UuidText
    farmer_name: str
    buyer_id: UuidText
    buyer_name: str
    product_id: UuidText
    product_name: str
    quantity: Quantity
    unit: Unit
    amount: Money = Field(description="The lot's final price")
    farmer_paid_fee: Money = Field(
        description="This lot's share of the bill's MARKET_YARD charge lines"
    )
    buyer_paid_fee: Money = Field(
        description="This lot's share of the invoice's MARKET_YARD charge lines"
    )
    market_fee: Money = Field(description="farmer_paid_fee + buyer_paid_fee")


class MarketFeeFigures(BaseModel):
    lots_count: int
    lots_amount: Money
    farmer_paid_fee: Money = Field(description="Σ MARKET_YARD lines of the ACTIVE bills")
    buyer_paid_fee: Money = Field(description="Σ MARKET_YARD lines of the ACTIVE invoices")
    market_fee: Money = Field(description="farmer_paid_fee + buyer_paid_fee")


class MarketFeeDay(MarketFeeFigures):
    day: dt.date = Field(description="The sessions' UTC calendar day")


class MarketFeeMeta(ListMeta):
    from_date: dt.date = Field(description="First session day included (`?from=`)")
    to_date: dt.date = Field(description="Last session day included (`?to=`)")
    days: list[MarketFeeDay] = Field(description="Totals per day, oldest first")
    totals: MarketFeeFigures


class MarketFeeEnvelope(BaseModel):
    """A page of the register's lots; meta adds the range and the totals per day and overall."""

    success: Literal[True] = True
    data: list[MarketFeeLotOut]
    meta: MarketFeeMeta


def commission_figures_out(f: service.CommissionFigures) -> CommissionFigures:
    return CommissionFigures(
        lots_count=f.lots_count,
        lots_amount=f.lots_amount,
        bills_count=f.bills_count,
        billed_amount=f.billed_amount,
        invoices_count=f.invoices_count,
        invoiced_amount=f.invoiced_amount,
        farmer_commission=f.farmer_commission,
        buyer_commission=f.buyer_commission,
        commission=f.commission,
        farmer_agent_charges=f.farmer_agent_charges,
        buyer_agent_charges=f.buyer_agent_charges,
        agent_charges=f.agent_charges,
        income=f.income,
    )


def commission_report_out(
    report: service.CommissionReport, period: service.DateRange
) -> CommissionReportOut:
    return CommissionReportOut(
        from_date=period.first,
        to_date=period.last,
        days=[
            CommissionDay(day=day, **commission_figures_out(f).model_dump())
            for day, f in report.days
        ],
        totals=commission_figures_out(report.totals),
    )


def market_fee_figures_out(f: service.MarketFeeFigures) -> MarketFeeFigures:
    return MarketFeeFigures(
        lots_count=f.lots_count,
        lots_amount=f.lots_amount,
        farmer_paid_fee=f.farmer_paid_fee,
        buyer_paid_fee=f.buyer_paid_fee,
        market_fee=f.market_fee,
    )


def market_fee_lot_out(lot: service.MarketFeeLot) -> MarketFeeLotOut:
    r = lot.row
    return MarketFeeLotOut(
        day=r.day,
        lot_id=str(r.id),
        bill_id=None if r.bill_id is None else str(r.bill_id),
        bill_number=r.bill_number,
        invoice_id=None if r.invoice_id is None else str(r.invoice_id),
        invoice_number=r.invoice_number,
        farmer_id=str(r.farmer_id),
        farmer_name=r.farmer_name,
        buyer_id=str(r.buyer_id),
        buyer_name=r.buyer_name,
        product_id=str(r.product_id),
        product_name=r.product_name,
        quantity=r.quantity,
        unit=r.unit,
        amount=r.final_price,
        farmer_paid_fee=lot.farmer_paid_fee,
        buyer_paid_fee=lot.buyer_paid_fee,
        market_fee=lot.market_fee,
    )
