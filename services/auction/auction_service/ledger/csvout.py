"""CSV answers of the journal views: RFC 4180, UTF-8, a header row, plain decimals."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from fastapi import Request
from starlette.responses import Response

from .service import money_text

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
# What a spreadsheet would run as a formula (OWASP's list): the cell gets a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Anything but letters, digits, dot and underscore becomes one dash (no quotes, no paths).
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._]+")


def wants_csv(request: Request) -> bool:
    """`.csv` on the path, or an Accept header naming text/csv."""
    if request.url.path.endswith(".csv"):
        return True
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip().lower() == "text/csv" for part in accept.split(","))


def cell(value: object) -> str:
    """Amounts as plain decimals; text that starts like a formula is defused with `'`."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return money_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def safe_filename(name: str) -> str:
    cleaned = _UNSAFE_FILENAME.sub("-", name).strip("-.") or "export"
    return cleaned[:100] + ".csv"


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> Response:
    buf = io.StringIO()
    # lineterminator CRLF and minimal quoting: RFC 4180.
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return Response(
        content=buf.getvalue().encode("utf-8"),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{safe_filename(filename)}"'},
    )
