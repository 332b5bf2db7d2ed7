"""Who may write instruments and candles: admins only (SPEC section 2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from servicekit.errors import Forbidden
from servicekit.security import Principal

from ..dependencies import PrincipalDep


async def require_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Admin role required")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]
