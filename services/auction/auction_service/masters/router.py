"""Masters API: categories, products, farmers and buyers, each a commissioner's own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse

from ..dependencies import CommissionerDep, SessionDep
from ..envelope import (
    NO_NUL_PATTERN,
    Envelope,
    ListEnvelope,
    MessageData,
    error_responses,
    message,
    ok,
    ok_list,
)
from ..idempotency import idempotent_create
from ..pagination import PageDep
from . import repository as repo
from . import service
from .models import Buyer, Category, Farmer, Product
from .schemas import (
    BuyerCreate,
    BuyerOut,
    BuyerUpdate,
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    FarmerCreate,
    FarmerOut,
    FarmerUpdate,
    ProductCreate,
    ProductOut,
    ProductUpdate,
)

router = APIRouter(prefix="/api")

SearchQ = Annotated[
    str | None,
    Query(
        max_length=200,
        pattern=NO_NUL_PATTERN,
        description="Case-insensitive search in names (and phone, village)",
    ),
]
ActiveQ = Annotated[bool | None, Query(description="Only active (true) or inactive (false)")]


# --- categories ---
@router.get(
    "/categories",
    tags=["categories"],
    response_model=ListEnvelope[CategoryOut],
    responses=error_responses(),
)
async def list_categories(
    commissioner: CommissionerDep,
    session: SessionDep,
    page: PageDep,
    q: SearchQ = None,
) -> ListEnvelope[CategoryOut]:
    """List categories, paginated, with `q` search."""
    rows, total = await repo.list_page(
        session,
        Category,
        commissioner.user_id,
        q=q,
        active=None,
        offset=page.offset,
        limit=page.limit,
    )
    data = [CategoryOut.model_validate(r) for r in rows]
    return ok_list(data, page=page.page, limit=page.limit, total=total)


@router.post(
    "/categories",
    tags=["categories"],
    status_code=201,
    response_model=Envelope[CategoryOut],
    responses=error_responses(409, 422),
)
async def create_category(
    body: CategoryCreate, request: Request, commissioner: CommissionerDep, session: SessionDep
) -> JSONResponse:
    """Create a category."""

    async def handler() -> Envelope[CategoryOut]:
        obj = await service.create(session, Category, commissioner.user_id, body)
        return ok(CategoryOut.model_validate(obj))

    return await idempotent_create(session, request, commissioner, handler)


@router.get(
    "/categories/{id}",
    tags=["categories"],
    response_model=Envelope[CategoryOut],
    responses=error_responses(404),
)
async def get_category(
    id: str, commissioner: CommissionerDep, session: SessionDep
) -> Envelope[CategoryOut]:
    """Get one category."""
    obj = await service.get_or_404(session, Category, commissioner.user_id, id)
    return ok(CategoryOut.model_validate(obj))


@router.put(
    "/categories/{id}",
    tags=["categories"],
    response_model=Envelope[CategoryOut],
    responses=error_responses(404, 409),
)
@router.patch(
    "/categories/{id}",
    tags=["categories"],
    response_model=Envelope[CategoryOut],
    responses=error_responses(404, 409),
    include_in_schema=False,
)
async def update_category(
    id: str, body: CategoryUpdate, commissioner: CommissionerDep, session: SessionDep
) -> Envelope[CategoryOut]:
    """Update a category (only the fields sent)."""
    obj = await service.update(session, Category, commissioner.user_id, id, body)
    return ok(CategoryOut.model_validate(obj))


@router.delete(
    "/categories/{id}",
    tags=["categories"],
    response_model=Envelope[MessageData],
    responses=error_responses(404, 409),
)
async def delete_category(
    id: str, commissioner: CommissionerDep, session: SessionDep
) -> Envelope[MessageData]:
    """Delete a category; 409 while referenced (deactivate instead)."""
    return message(await service.delete(session, Category, commissioner.user_id, id))


# --- products ---
@router.get(
    "/products",
    tags=["products"],
    response_model=ListEnvelope[ProductOut],
    responses=error_responses(),
)
async def list_products(
    commissioner: CommissionerDep,
    session: SessionDep,
    page: PageDep,
    q: SearchQ = None,
    active: ActiveQ = None,
) -> ListEnvelope[ProductOut]:
    """List products, paginated, with `q` search."""
    rows, total = await repo.list_page(
        session,
        Product,
        commissioner.user_id,
        q=q,
        active=active,
        offset=page.offset,
        limit=page.limit,
    )
    data = [ProductOut.model_validate(r) for r in rows]
    return ok_list(data, page=page.page, limit=page.limit, total=total)


@router.post(
    "/products",
    tags=["products"],
    status_code=201,
    response_model=Envelope[ProductOut],
    responses=error_responses(409, 422),
)
async def create_product(
    body: ProductCreate, request: Request, commissioner: CommissionerDep, session: SessionDep
) -> JSONResponse:
    """Create a product."""

    async def handler() -> Envelope[ProductOut]:
        obj = await service.create(session, Product, commissioner.user_id, body)
        return ok(ProductOut.model_validate(obj))

    return await idempotent_create(session, request, commissioner, handler)


@router.get(
    "/products/{id}",
    tags=["products"],
    response_model=Envelope[ProductOut],
    responses=error_responses(404),
)
async def get_product(
    id: str, commissioner: CommissionerDep, session: SessionDep
) -> Envelope[ProductOut]:
    """Get one product."""
    obj = await service.get_or_404(session, Product, commissioner.user_id, id)
    return ok(ProductOut.model_validate(obj))


@router.put(
    "/products/{id}",
    tags=["products"],
    response_model=Envelope[ProductOut],
    responses=error_responses(404, 409),
)
@router.patch(
    "/products/{id}",
    tags=["products"],
    response_model=Envelope[ProductOut],
    responses=error_responses(404, 409),
    include_in_schema=False,
)
async def update_product(
    id: str, body: ProductUpdate, commissioner: CommissionerDep, session: SessionDep
) -> Envelope[ProductOut]:
    """Update a product (only the fields sent)."""
    obj = await service.update(session, Product, commissioner.user_id, id, body)
    return ok(ProductOut.model_validate(obj))


@router.delete(
    "/products/{id}",
    tags=["products"],
    response_model=Envelope[MessageData],
    responses=error_responses(404, 409),
)
async def delete_product(
    id: str, commissioner: CommissionerDep, session: SessionDep
) -> Envelope[MessageData]:
    """Delete a product; 409 while referenced (deactivate instead)."""
    return message(await service.delete(session, Product, commissioner.user_id, id))


# --- farmers ---
@router.get(
    "/farmers",
    tags=["farmers"],
    response_model=ListEnvelope[FarmerOut],
    responses=error_responses(),
)
async def list_farmers(
    commissioner: CommissionerDep,
    session: SessionDep,
    page: PageDep,
    q: SearchQ = None,
    active: ActiveQ = None,
) -> ListEnvelope[FarmerOut]:
    """List farmers, paginated, with `q` search."""
    rows, total = await repo.list_page(
        session,
        Farmer,
        commissioner.user_id,
        q=q,
        active=active,
        offset=page.offset,
        limit=page.limit,
    )
    data = [FarmerOut.model_validate(r) for r in rows]
    return ok_list(data, page=page.page, limit=page.limit, total=total)


@router.post(
    "/farmers",
    tags=["farmers"],
    status_code=201,
    response_model=Envelope[FarmerOut],
    responses=error_responses(409, 422),
)
async def create_farmer(
    body: FarmerCreate, request: Request, commissioner: CommissionerDep, session: SessionDep
) -> JSONResponse:
    """Create a farmer."""

    async def handler() -> Envelope[FarmerOut]:
        obj = await service.create(session, Farmer, commissioner.user_id, body)
        return ok(FarmerOut.model_validate(obj))

    return await idempotent_create(session, request, commissioner, handler)


@router.get(
    "/farmers/{id}",
    tags=["farmers"],
    response_model=Envelope[FarmerOut],
    responses=error_responses(404),
)
async def get_farmer(
    id: str, commissioner: CommissionerDep, session: SessionDep
) -> Envelope[FarmerOut]:
    """Get one farmer."""
    obj = await service.get_or_404(session, Farmer, commissioner.user_id, id)
    return ok(FarmerOut.model_validate(obj))


@router.put(
    "/farmers/{id}",
    tags=["farmers"],
    response_model=Envelope[FarmerOut],
    responses=error_responses(404, 409),
)
@router.patch(
    "/farmers/{id}",
    tags=["farmers"],
    response_model=Envelope[FarmerOut],
    responses=error_responses(404, 409),
    include_in_schema=False,
)
async def update_farmer(
    id: str, body: FarmerUpdate, commissioner: CommissionerDep, session: SessionDep
) -> Envelope[FarmerOut]:
    """Update a farmer (only the fields sent)."""
    obj = await service.update(session, Farmer, commissioner.user_id, id, body)
    return ok(FarmerOut.model_validate(obj))


@router.delete(
    "/farmers/{id}",
    tags=["farmers"],
    response_model=Envelope[MessageData],
    responses=error_responses(404, 409),
)
async def delete_farmer(
    id: str, commissioner: CommissionerDep, session: SessionDep
) -> Envelope[MessageData]:
    """Delete a farmer; 409 while referenced (deactivate instead)."""
    return message(await service.delete(session, Farmer, commissioner.user_id, id))


# --- buyers ---
@router.get(
    "/buyers",
    tags=["buyers"],
    response_model=ListEnvelope[BuyerOut],
    responses=error_responses(),
)
async def list_buyers(
    commissioner: CommissionerDep,
    session: SessionDep,
    page: PageDep,
    q: SearchQ = None,
    active: ActiveQ = None,
) -> ListEnvelope[BuyerOut]:
    """List buyers, paginated, with `q` search."""
    rows, total = await repo.list_page(
        session,
        Buyer,
        commissioner.user_id,
        q=q,
        active=active,
        offset=page.offset,
        limit=page.limit,
    )
    data = [BuyerOut.model_validate(r) for r in rows]
    return ok_list(data, page=page.page, limit=page.limit, total=total)


@router.post(
    "/buyers",
    tags=["buyers"],
    status_code=201,
    response_model=Envelope[BuyerOut],
    responses=error_responses(409, 422),
)
async def create_buyer(
    body: BuyerCreate, request: Request, commissioner: CommissionerDep, session: SessionDep
) -> JSONResponse:
    """Create a buyer."""

    async def handler() -> Envelope[BuyerOut]:
        obj = await service.create(session, Buyer, commissioner.user_id, body)
        return ok(BuyerOut.model_validate(obj))

    return await idempotent_create(session, request, commissioner, handler)


@router.get(
    "/buyers/{id}",
    tags=["buyers"],
    response_model=Envelope[BuyerOut],
    responses=error_responses(404),
)
async def get_buyer(
    id: str, commissioner: CommissionerDep, session: SessionDep
) -> Envelope[BuyerOut]:
    """Get one buyer."""
    obj = await service.get_or_404(session, Buyer, commissioner.user_id, id)
    return ok(BuyerOut.model_validate(obj))


@router.put(
    "/buyers/{id}",
    tags=["buyers"],
    response_model=Envelope[BuyerOut],
    responses=error_responses(404, 409),
)
@router.patch(
    "/buyers/{id}",
    tags=["buyers"],
    response_model=Envelope[BuyerOut],
    responses=error_responses(404, 409),
    include_in_schema=False,
)
async def update_buyer(
    id: str, body: BuyerUpdate, commissioner: CommissionerDep, session: SessionDep
) -> Envelope[BuyerOut]:
    """Update a buyer (only the fields sent)."""
    obj = await service.update(session, Buyer, commissioner.user_id, id, body)
    return ok(BuyerOut.model_validate(obj))


@router.delete(
    "/buyers/{id}",
    tags=["buyers"],
    response_model=Envelope[MessageData],
    responses=error_responses(404, 409),
)
async def delete_buyer(
    id: str, commissioner: CommissionerDep, session: SessionDep
) -> Envelope[MessageData]:
    """Delete a buyer; 409 while referenced (deactivate instead)."""
    return message(await service.delete(session, Buyer, commissioner.user_id, id))
