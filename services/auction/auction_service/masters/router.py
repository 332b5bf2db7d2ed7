"""Masters API: categories, products, farmers, buyers and charges, each a commissioner's own.

The masters share one shape (list, create, get, update, delete); `_master_routes` adds
that shape for one of them. Annotations here are evaluated (no `from __future__ import
annotations`), because FastAPI reads the schema classes the factory closes over.
"""

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse

from servicekit.openapi import IDEMPOTENCY_KEY

from ..charges.models import Charge
from ..charges.schemas import ChargeCreate, ChargeOut, ChargeUpdate
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


def _master_routes(
    plural: str,
    singular: str,
    model: Any,
    out: Any,
    create_schema: Any,
    update_schema: Any,
    *,
    active_filter: bool,
) -> None:
    """Add `/api/<plural>` (list, create) and `/api/<plural>/{id}` (get, put/patch, delete)."""
    path, item = f"/{plural}", f"/{plural}/{{id}}"
    tags: list[str | Enum] = [plural]

    async def list_page(
        commissioner: CommissionerDep, session: SessionDep, page: PageDep, q: SearchQ, active: Any
    ) -> Any:
        rows, total = await repo.list_page(
            session,
            model,
            commissioner.user_id,
            q=q,
            active=active,
            offset=page.offset,
            limit=page.limit,
        )
        data = [out.model_validate(r) for r in rows]
        return ok_list(data, page=page.page, limit=page.limit, total=total)

    if active_filter:

        async def list_masters(
            commissioner: CommissionerDep,
            session: SessionDep,
            page: PageDep,
            q: SearchQ = None,
            active: ActiveQ = None,
        ) -> Any:
            return await list_page(commissioner, session, page, q, active)

    else:

        async def list_masters(  # type: ignore[misc]
            commissioner: CommissionerDep, session: SessionDep, page: PageDep, q: SearchQ = None
        ) -> Any:
            return await list_page(commissioner, session, page, q, None)

    async def create_master(
        body: create_schema,
        request: Request,
        commissioner: CommissionerDep,
        session: SessionDep,
    ) -> JSONResponse:
        async def handler() -> Any:
            obj = await service.create(session, model, commissioner.user_id, body)
            return ok(out.model_validate(obj))

        return await idempotent_create(session, request, commissioner, handler)

    async def get_master(id: str, commissioner: CommissionerDep, session: SessionDep) -> Any:
        obj = await service.get_or_404(session, model, commissioner.user_id, id)
        return ok(out.model_validate(obj))

    async def update_master(
        id: str,
        body: update_schema,
        commissioner: CommissionerDep,
        session: SessionDep,
    ) -> Any:
        obj = await service.update(session, model, commissioner.user_id, id, body)
        return ok(out.model_validate(obj))

    async def delete_master(id: str, commissioner: CommissionerDep, session: SessionDep) -> Any:
        return message(await service.delete(session, model, commissioner.user_id, id))

    # One-line docstrings become the OpenAPI summaries; names keep the operation ids stable.
    list_masters.__doc__ = f"List {plural}, paginated, with `q` search."
    create_master.__doc__ = f"Create a {singular}."
    get_master.__doc__ = f"Get one {singular}."
    update_master.__doc__ = f"Update a {singular} (only the fields sent)."
    delete_master.__doc__ = f"Delete a {singular}; 409 while referenced (deactivate instead)."
    one, many, msg = Envelope[out], ListEnvelope[out], Envelope[MessageData]
    add = router.add_api_route
    add(
        path,
        list_masters,
        methods=["GET"],
        name=f"list_{plural}",
        tags=tags,
        response_model=many,
        responses=error_responses(),
    )
    add(
        path,
        create_master,
        methods=["POST"],
        name=f"create_{singular}",
        tags=tags,
        status_code=201,
        openapi_extra=IDEMPOTENCY_KEY,
        response_model=one,
        responses=error_responses(409, 422),
    )
    add(
        item,
        get_master,
        methods=["GET"],
        name=f"get_{singular}",
        tags=tags,
        response_model=one,
        responses=error_responses(404),
    )
    add(
        item,
        update_master,
        methods=["PUT"],
        name=f"update_{singular}",
        tags=tags,
        response_model=one,
        responses=error_responses(404, 409),
    )
    add(
        item,
        update_master,
        methods=["PATCH"],
        name=f"update_{singular}",
        tags=tags,
        response_model=one,
        responses=error_responses(404, 409),
        include_in_schema=False,
    )
    add(
        item,
        delete_master,
        methods=["DELETE"],
        name=f"delete_{singular}",
        tags=tags,
        response_model=msg,
        responses=error_responses(404, 409),
    )


_master_routes(
    "categories",
    "category",
    Category,
    CategoryOut,
    CategoryCreate,
    CategoryUpdate,
    active_filter=False,
)
_master_routes(
    "products", "product", Product, ProductOut, ProductCreate, ProductUpdate, active_filter=True
)
_master_routes(
    "farmers", "farmer", Farmer, FarmerOut, FarmerCreate, FarmerUpdate, active_filter=True
)
_master_routes("buyers", "buyer", Buyer, BuyerOut, BuyerCreate, BuyerUpdate, active_filter=True)
_master_routes(
    "charges", "charge", Charge, ChargeOut, ChargeCreate, ChargeUpdate, active_filter=True
)
