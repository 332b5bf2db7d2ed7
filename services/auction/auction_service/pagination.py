"""Query parameters every list shares: page and limit (max 100), sort order."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Query

MAX_LIMIT = 100
MAX_PAGE = 1_000_000  # keeps OFFSET inside BIGINT whatever a client sends


class SortOrder(StrEnum):
    asc = "asc"
    desc = "desc"


@dataclass(frozen=True)
class Page:
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def _page(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1")] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (max 100)")] = 10,
) -> Page:
    return Page(page=page, limit=limit)


PageDep = Annotated[Page, Depends(_page)]
