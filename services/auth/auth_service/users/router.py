"""Users routes: registration and the current user."""

from __future__ import annotations

from fastapi import APIRouter

from ..dependencies import PasswordsDep, PrincipalDep, SessionDep
from . import service
from .schemas import RegisterIn, UserOut

router = APIRouter(prefix="/auth", tags=["users"])


@router.post(
    "/register",
    status_code=201,
    response_model=UserOut,
    responses={409: {"description": "Email already registered"}},
)
async def register(data: RegisterIn, session: SessionDep, passwords: PasswordsDep) -> UserOut:
    """Create an account (roles trader and/or commissioner)."""
    user = await service.register(session, passwords, data)
    return UserOut.model_validate(user)


@router.get("/me", response_model=UserOut, responses={401: {"description": "Not authenticated"}})
async def me(principal: PrincipalDep, session: SessionDep) -> UserOut:
    """The signed-in user."""
    user = await service.current_user(session, principal.user_id)
    return UserOut.model_validate(user)
