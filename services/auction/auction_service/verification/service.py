"""A bill the farmer can verify: the public signed copy, and the printable page."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import Database
from servicekit.errors import NotFound

from ..bills import repository as bills_repo
from ..bills.models import VERIFICATION_CODE_PATTERN, Bill
from . import repository as repo
from .canonical import canonical_json
from .keys import BillSigner
from .printing import render_bill_html, verification_url
from .schemas import PublicBill, public_bill

_CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_CODE_MIN, _CODE_MAX = 22, 64
assert VERIFICATION_CODE_PATTERN == f"^[A-Za-z0-9_-]{{{_CODE_MIN},{_CODE_MAX}}}$"


def _plausible(code: str) -> bool:
    return _CODE_MIN <= len(code) <= _CODE_MAX and set(code) <= _CODE_CHARS


async def _document(db: AsyncSession, bill: Bill) -> PublicBill:
    """The public copy, naming the commissioner by their business name as it is now."""
    settings = await bills_repo.get_settings(db, bill.commissioner_id)
    return public_bill(bill, settings.business_name)


async def signed_public_bill(
    db: AsyncSession, database: Database, signer: BillSigner, code: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The bill's public document as JSON values, and its signature over their RFC 8785
    form. An unknown (or malformed) code is 404, the same answer either way."""
    bill = await repo.bill_by_code(db, code) if _plausible(code) else None
    if bill is None:
        raise NotFound("Bill not found")
    data = (await _document(db, bill)).model_dump(mode="json")
    signature = await signer.sign(database, canonical_json(data))
    return data, signature


async def print_bill(
    db: AsyncSession, commissioner_id: int, bill_id: uuid.UUID, public_base_url: str
) -> str:
    bill = await bills_repo.get_bill(db, commissioner_id, bill_id)
    if bill is None:
        raise NotFound("Bill not found")
    doc = await _document(db, bill)
    return render_bill_html(doc, verification_url(public_base_url, bill.verification_code))
