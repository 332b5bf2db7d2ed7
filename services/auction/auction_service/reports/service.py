"""The commission report and the market-fee register (issue 11).

Both run over a range of session days (the session's UTC calendar date, both ends included)
and count only ACTIVE bills and invoices: a void document counts nowhere, and its lots show
as not yet billed (or invoiced) until a new document takes them.

Commission report, per day and in total: the lots sold; the commission (on bills the farmer
pays it, on invoices the buyer does); the agent's own charges (charge lines whose account is
AGENT, both payers); income = commission + agent charges. MARKET_YARD and THIRD_PARTY lines are
money the agent passes on, never income.

Market-fee register: one row per lot sold, with the market fee charged on it (charge lines
whose account is MARKET_YARD: on the farmer's bill, on the buyer's invoice, or both). A
charge line belongs to a whole document, so it is apportioned to the document's lots by the
basis it was computed on: PERCENT by each lot's amount, PER_UNIT by each lot's quantity in
the charge's unit (a lot in another unit bears none), FIXED_PER_LOT equally. The line's
amount, in cents, is split by the largest-remainder rule: each lot gets the floor of its
exact share, and the cents left over go one each to the lots with the largest remainders
(on a tie, the lot entered first at the auction). So each lot is within a cent of its exact
share, and a document's lots add up exactly to its lines: the register's totals are the
fees the documents charged.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import field_error
from ..ledger.service import day_bounds
from . import repository as repo

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# A range spans at most this many days (a leap year), both ends included.
MAX_DAYS = 366
MARKET_YARD = "MARKET_YARD"
AGENT = "AGENT"


@dataclass(frozen=True)
class DateRange:
    first: date
    last: date

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) in UTC: midnight of the first day to midnight after the last."""
        return day_bounds(self.first)[0], day_bounds(self.last)[1]


def date_range(first: date | None, last: date | None, today: date) -> DateRange:
    """`to` defaults to today (UTC), `from` to the first of `to`'s month; `from` after `to` or
    a range of more than MAX_DAYS days is a 400 naming the parameter."""
    last = last or today
    first = first or last.replace(day=1)
    if first > last:
        raise field_error("from", "from must not be after to", location="query")
    if (last - first).days + 1 > MAX_DAYS:
        raise field_error("to", f"The range may span at most {MAX_DAYS} days", location="query")
    return DateRange(first, last)


def apportion(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `amount` (cents) over `weights` exactly: floors of the exact shares, then the
    cents left one each to the largest remainders, the earlier one first on a tie (lots
    come in entry order). No weight at all (never for a line the rules computed) splits
    equally, so no cent is lost."""
    if not weights:
        return []
    total = sum(weights, Decimal(0))
    shares = [Fraction(w) for w in weights] if total > 0 else [Fraction(1)] * len(weights)
    whole = sum(shares, Fraction(0))
    cents = int(amount / CENT)
    exact = [cents * s / whole for s in shares]
    floors = [e.numerator // e.denominator for e in exact]
    left = cents - sum(floors)
    by_remainder = sorted(range(len(exact)), key=lambda i: (floors[i] - exact[i], i))
    for i in by_remainder[:left]:
        floors[i] += 1
    return [Decimal(c) * CENT for c in floors]


def lot_weight(kind: str, unit: str | None, lot: Any) -> Decimal:
    """A lot's part of a line's basis (charges.rules.charge_basis, lot by lot)."""
    if kind == "PERCENT":
        return Decimal(lot.amount)
    if kind == "PER_UNIT":
        return Decimal(lot.quantity) if lot.unit == unit else Decimal(0)
    return Decimal(1)


async def lot_fees(
    db: AsyncSession, side: repo.Side, commissioner_id: int, doc_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Decimal]:
    """Each lot's share of its document's MARKET_YARD lines, for the given documents."""
    lots_by_doc: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for lot in await repo.document_lots(db, side, commissioner_id, doc_ids):
        lots_by_doc[lot[0]].append(lot)
    fees: dict[uuid.UUID, Decimal] = defaultdict(lambda: ZERO)
    lines = await repo.document_lines(db, side, commissioner_id, doc_ids, MARKET_YARD)
    for doc_id, kind, unit, amount in lines:
        lots = lots_by_doc[doc_id]
        weights = [lot_weight(kind, unit, lot) for lot in lots]
        for lot, share in zip(lots, apportion(amount, weights), strict=True):
            fees[lot.auction_item_id] += share
    return fees


# --- the commission report -------------------------------------------------------------


@dataclass
class CommissionFigures:
    lots_count: int = 0
    lots_amount: Decimal = ZERO
    bills_count: int = 0
    billed_amount: Decimal = ZERO
    invoices_count: int = 0
    invoiced_amount: Decimal = ZERO
    farmer_commission: Decimal = ZERO
    buyer_commission: Decimal = ZERO
    farmer_agent_charges: Decimal = ZERO
    buyer_agent_charges: Decimal = ZERO

    @property
    def commission(self) -> Decimal:
        return self.farmer_commission + self.buyer_commission

    @property
    def agent_charges(self) -> Decimal:
        return self.farmer_agent_charges + self.buyer_agent_charges

    @property
    def income(self) -> Decimal:
        return self.commission + self.agent_charges

    def add(self, other: CommissionFigures) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class CommissionReport:
    days: list[tuple[date, CommissionFigures]]
    totals: CommissionFigures


async def commission_report(
    db: AsyncSession, commissioner_id: int, period: DateRange
) -> CommissionReport:
    start, end = period.bounds()
    by_day: dict[date, CommissionFigures] = defaultdict(CommissionFigures)
    for day, count, amount in await repo.lot_totals(db, commissioner_id, start, end):
        by_day[day].lots_count, by_day[day].lots_amount = int(count), amount
    for day, count, total, commission in await repo.bill_totals(db, commissioner_id, start, end):
        figures = by_day[day]
        figures.bills_count, figures.billed_amount = int(count), total
        figures.farmer_commission = Decimal(commission)
    for day, count, lots, commission in await repo.invoice_totals(db, commissioner_id, start, end):
        figures = by_day[day]
        figures.invoices_count, figures.invoiced_amount = int(count), lots
        figures.buyer_commission = commission
    for side, attr in (
        (repo.BILLS, "farmer_agent_charges"),
        (repo.INVOICES, "buyer_agent_charges"),
    ):
        for day, account, amount in await repo.charge_totals(db, side, commissioner_id, start, end):
            if account == AGENT:
                setattr(by_day[day], attr, amount)
    totals = CommissionFigures()
    days = sorted(by_day.items())
    for _, figures in days:
        totals.add(figures)
    return CommissionReport(days=days, totals=totals)


# --- the market-fee register -----------------------------------------------------------


@dataclass
class MarketFeeFigures:
    lots_count: int = 0
    lots_amount: Decimal = ZERO
    farmer_paid_fee: Decimal = ZERO
    buyer_paid_fee: Decimal = ZERO

    @property
    def market_fee(self) -> Decimal:
        return self.farmer_paid_fee + self.buyer_paid_fee

    def add(self, other: MarketFeeFigures) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class MarketFeeLot:
    row: Any  # repository._lots's columns
    farmer_paid_fee: Decimal
    buyer_paid_fee: Decimal

    @property
    def market_fee(self) -> Decimal:
        return self.farmer_paid_fee + self.buyer_paid_fee


@dataclass
class MarketFeeRegister:
    lots: list[MarketFeeLot]
    total_lots: int
    days: list[tuple[date, MarketFeeFigures]] = field(default_factory=list)
    totals: MarketFeeFigures = field(default_factory=MarketFeeFigures)


async def market_fee_register(
    db: AsyncSession,
    commissioner_id: int,
    period: DateRange,
    *,
    offset: int,
    limit: int | None,
) -> MarketFeeRegister:
    """A page of the lots (every lot when `limit` is None) with their fees, and the totals
    per day and overall (over the whole range, whatever the page)."""
    start, end = period.bounds()
    rows, total = await repo.lots_page(db, commissioner_id, start, end, offset=offset, limit=limit)
    bill_ids = sorted({r.bill_id for r in rows if r.bill_id is not None})
    invoice_ids = sorted({r.invoice_id for r in rows if r.invoice_id is not None})
    farmer_fees = await lot_fees(db, repo.BILLS, commissioner_id, bill_ids)
    buyer_fees = await lot_fees(db, repo.INVOICES, commissioner_id, invoice_ids)
    lots = [
        MarketFeeLot(
            row=r,
            farmer_paid_fee=farmer_fees.get(r.id, ZERO),
            buyer_paid_fee=buyer_fees.get(r.id, ZERO),
        )
        for r in rows
    ]
    by_day: dict[date, MarketFeeFigures] = defaultdict(MarketFeeFigures)
    for day, count, amount in await repo.lot_totals(db, commissioner_id, start, end):
        by_day[day].lots_count, by_day[day].lots_amount = int(count), amount
    for side, attr in ((repo.BILLS, "farmer_paid_fee"), (repo.INVOICES, "buyer_paid_fee")):
        for day, account, amount in await repo.charge_totals(db, side, commissioner_id, start, end):
            if account == MARKET_YARD:
                setattr(by_day[day], attr, amount)
    register = MarketFeeRegister(lots=lots, total_lots=total, days=sorted(by_day.items()))
    for _, figures in register.days:
        register.totals.add(figures)
    return register
