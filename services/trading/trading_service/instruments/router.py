"""instruments routes."""

from fastapi import APIRouter

router = APIRouter(tags=["instruments"])
