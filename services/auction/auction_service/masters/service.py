"""Master rules: each commissioner sees only their own; a referenced master is deactivated,
not deleted; a product's category must be the commissioner's own."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.errors import Conflict, NotFound

from ..charges.models import Charge
from ..charges.schemas import shape_error
from ..errors import field_error
from . import repository as repo
from .models import Buyer, Category, Farmer, Product
from .schemas import ProductCreate

LABELS: dict[type[Any], str] = {
    Category: "Category",
    Product: "Product",
    Farmer: "Farmer",
    Buyer: "Buyer",
    Charge: "Charge",
}
# Fields that may be left out of an update but never set to null.
NOT_NULL = ("name", "category_id", "active", "kind", "rate", "payer", "account")
CATEGORY_NAME_TAKEN = "A category with this name already exists"


def parse_id(raw: str, label: str) -> uuid.UUID:
    """A path id that is not a UUID names no record: 404, like an unknown one."""
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise NotFound(f"{label} not found") from exc


async def get_or_404(
    session: AsyncSession,
    model: type[repo.M],
    commissioner_id: int,
    raw_id: str,
    *,
    lock: bool = False,
) -> repo.M:
    label = LABELS[model]
    obj = await repo.get(session, model, commissioner_id, parse_id(raw_id, label), lock=lock)
    if obj is None:
        raise NotFound(f"{label} not found")
    return obj


async def _own_category(
    session: AsyncSession, commissioner_id: int, category_id: uuid.UUID
) -> Category:
    category = await repo.get(session, Category, commissioner_id, category_id, share=True)
    if category is None:
        raise field_error("category_id", "Category not found")
    return category


async def create(
    session: AsyncSession, model: type[repo.M], commissioner_id: int, body: BaseModel
) -> repo.M:
    values = body.model_dump()
    if isinstance(body, ProductCreate):
        await _own_category(session, commissioner_id, body.category_id)
    obj = model(commissioner_id=commissioner_id, **values)
    violated = await repo.add(session, obj)
    if violated is not None:
        _raise_for(violated)
    await repo.refresh(session, obj)
    return obj


async def update(
    session: AsyncSession,
    model: type[repo.M],
    commissioner_id: int,
    raw_id: str,
    body: BaseModel,
) -> repo.M:
    obj = await get_or_404(session, model, commissioner_id, raw_id, lock=True)
    changes = body.model_dump(exclude_unset=True)
    for name in NOT_NULL:
        if name in changes and changes[name] is None:
            raise field_error(name, "Field may not be null")
    if changes.get("category_id") is not None:
        await _own_category(session, commissioner_id, changes["category_id"])
    if isinstance(obj, Charge):
        _check_charge_shape(obj, changes)
    for name, value in changes.items():
        setattr(obj, name, value)
    violated = await repo.save(session)
    if violated is not None:
        _raise_for(violated)
    await repo.refresh(session, obj)
    return obj


async def delete(
    session: AsyncSession, model: type[repo.M], commissioner_id: int, raw_id: str
) -> str:
    obj = await get_or_404(session, model, commissioner_id, raw_id, lock=True)
    label = LABELS[model]
    if await repo.is_referenced(session, obj) or not await repo.remove(session, obj):
        raise Conflict(_in_use_message(model))
    return f"{label} deleted successfully"


def _check_charge_shape(charge: Charge, changes: dict[str, Any]) -> None:
    """The charge as it would be after the update must still be whole (400 otherwise). A
    kind changed away from PER_UNIT drops the unit unless one is sent."""
    kind = changes.get("kind", charge.kind)
    if kind != "PER_UNIT" and "kind" in changes and "unit" not in changes:
        changes["unit"] = None
    broken = shape_error(kind, changes.get("rate", charge.rate), changes.get("unit", charge.unit))
    if broken is not None:
        raise field_error(*broken)


def _in_use_message(model: type[Any]) -> str:
    if model is Category:
        return "Cannot delete category while products use it. Move or delete them first."
    label = LABELS[model]
    return f"Cannot delete {label.lower()} while it is referenced. Deactivate it instead."


def _raise_for(constraint: str) -> None:
    if constraint == "uq_categories_commissioner_id_lower_name":
        raise Conflict(CATEGORY_NAME_TAKEN)
    if constraint == "fk_products_category_id_categories":
        raise field_error("category_id", "Category not found")
    raise Conflict("The change conflicts with existing data")
