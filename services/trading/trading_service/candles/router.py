"""candles routes."""

from fastapi import APIRouter

router = APIRouter(tags=["candles"])
