"""Master shapes: what a commissioner sends and what the API shows."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from servicekit.openapi import not_null
from servicekit.text import plain_text

from ..envelope import CommissionerId, Timestamp

# Constraints first (strip, then length), then the character check (no NUL, other control
# characters or bidi overrides: servicekit.text).
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(plain_text),
]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=50), AfterValidator(plain_text)
]
Village = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(plain_text)
]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- categories ---
class CategoryCreate(BaseModel):
    name: Name


class CategoryUpdate(BaseModel):
    model_config = ConfigDict(json_schema_extra=not_null())

    name: Name | None = None


class CategoryBrief(_Out):
    id: uuid.UUID
    name: str


class CategoryOut(CategoryBrief):
    commissioner_id: CommissionerId
    created_at: Timestamp
    updated_at: Timestamp


# --- products ---
class ProductCreate(BaseModel):
    name: Name
    category_id: uuid.UUID
    active: bool = True


class ProductUpdate(BaseModel):
    model_config = ConfigDict(json_schema_extra=not_null())

    name: Name | None = None
    category_id: uuid.UUID | None = None
    active: bool | None = None


class ProductBrief(_Out):
    """A product as items show it: with its category."""

    id: uuid.UUID
    name: str
    category_id: uuid.UUID
    active: bool
    category: CategoryBrief


class ProductOut(ProductBrief):
    commissioner_id: CommissionerId
    created_at: Timestamp
    updated_at: Timestamp


# --- farmers ---
class FarmerCreate(BaseModel):
    name: Name
    phone: Phone | None = None
    village: Village | None = None
    active: bool = True


class FarmerUpdate(BaseModel):
    model_config = ConfigDict(json_schema_extra=not_null("name", "active"))

    name: Name | None = None
    phone: Phone | None = None
    village: Village | None = None
    active: bool | None = None


class FarmerBrief(_Out):
    id: uuid.UUID
    name: str
    phone: str | None
    village: str | None
    active: bool


class FarmerOut(FarmerBrief):
    commissioner_id: CommissionerId
    created_at: Timestamp
    updated_at: Timestamp


# --- buyers ---
class BuyerCreate(BaseModel):
    name: Name
    phone: Phone | None = None
    active: bool = True


class BuyerUpdate(BaseModel):
    model_config = ConfigDict(json_schema_extra=not_null("name", "active"))

    name: Name | None = None
    phone: Phone | None = None
    active: bool | None = None


class BuyerBrief(_Out):
    id: uuid.UUID
    name: str
    phone: str | None
    active: bool


class BuyerOut(BuyerBrief):
    commissioner_id: CommissionerId
    created_at: Timestamp
    updated_at: Timestamp
