"""Placeholder until the Sessions API lands: proves routing and authentication."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..dependencies import PrincipalDep

router = APIRouter(tags=["sessions"])


@router.get("/sessions")
async def list_sessions(principal: PrincipalDep) -> dict[str, Any]:
    """List trading sessions."""
    return {"sessions": [], "total": 0, "page": 1, "limit": 20}
