"""The built app on disk (web/dist) as HTTP responses.

- `/assets/...`: content-hashed files, cached for good (`immutable`); the precompressed copy
  the build wrote (`.br`, else `.gz`) when the client accepts it; a missing file is a 404,
  never the page (a stale page asking for an old chunk must fail loudly, not parse HTML as JS).
- every app path (`APP_PATHS`): `index.html`, revalidated on every load (`no-cache`, ETag),
  with the strict Content-Security-Policy: no inline script or style, nothing from elsewhere.

Files are read per request (the page's bytes cached by size and mtime), so a rebuild is
served at once without a restart.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

# The app's own paths (web/src/router.ts); gateway/dynamic.yml's `web` router sends exactly
# these (and /assets/) here, so they never shadow an API path.
APP_PATHS = ("/", "/signin", "/signup")
APP_PREFIXES = ("/trade", "/auction", "/docs")

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # data: for the small images Swagger UI's stylesheet embeds; blob: for chart exports.
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    ]
)
HTML_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
IMMUTABLE = "public, max-age=31536000, immutable"

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def is_app_path(path: str) -> bool:
    return path in APP_PATHS or any(
        path == prefix or path.startswith(f"{prefix}/") for prefix in APP_PREFIXES
    )


def accepted_encodings(header: str | None) -> set[str]:
    """`br;q=0.9, gzip` -> {"br", "gzip"}; q=0 refuses a coding."""
    accepted = set()
    for item in (header or "").split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name and q > 0:
            accepted.add(name.strip().lower())
    return accepted


def not_found() -> JSONResponse:
    return JSONResponse(
        {"detail": "Not found"}, status_code=404, headers={"Cache-Control": "no-store"}
    )


@dataclass
class _Page:
    key: tuple[int, int]
    bodies: dict[str, bytes]  # "" (identity), "br", "gzip"
    etag: str


class Dist:
    """One build output directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.assets = root / "assets"
        self._page: _Page | None = None

    @property
    def ready(self) -> bool:
        return (self.root / "index.html").is_file() and self.assets.is_dir()

    def _asset_path(self, rel: str) -> Path | None:
        parts = rel.split("/")
        # Plain names only: no `..`, no dotfiles, no empty segments, no backslashes.
        if not parts or not all(_SAFE_PART.match(part) for part in parts):
            return None
        path = self.assets.joinpath(*parts)
        return path if path.is_file() else None

    def asset(self, request: Request, rel: str) -> Response:
        path = self._asset_path(rel)
        if path is None or path.suffix in (".br", ".gz"):
            return not_found()
        accepted = accepted_encodings(request.headers.get("accept-encoding"))
        media_type = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        headers = {
            "Cache-Control": IMMUTABLE,
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        for coding, suffix in ENCODINGS:
            compressed = path.with_name(path.name + suffix)
            if coding in accepted and compressed.is_file():
                headers["Content-Encoding"] = coding
                return FileResponse(compressed, media_type=media_type, headers=headers)
        return FileResponse(path, media_type=media_type, headers=headers)

    def _load_page(self) -> _Page | None:
        index = self.root / "index.html"
        try:
            stat = index.stat()
        except OSError:
            return None
        key = (stat.st_size, stat.st_mtime_ns)
        if self._page is not None and self._page.key == key:
            return self._page
        body = index.read_bytes()
        bodies = {"": body}
        for coding, suffix in ENCODINGS:
            compressed = index.with_name(index.name + suffix)
            if compressed.is_file():
                bodies[coding] = compressed.read_bytes()
        etag = hashlib.sha256(body).hexdigest()[:20]
        self._page = _Page(key, bodies, etag)
        return self._page

    def page(self, request: Request) -> Response:
        page = self._load_page()
        if page is None:
            return JSONResponse(
                {"detail": "The web app is not built (run `make install`)"},
                status_code=503,
                headers={"Retry-After": "5", "Cache-Control": "no-store"},
            )
        accepted = accepted_encodings(request.headers.get("accept-encoding"))
        coding = next((c for c, _ in ENCODINGS if c in accepted and c in page.bodies), "")
        etag = f'"{page.etag}{"-" + coding if coding else ""}"'
        headers = {**HTML_HEADERS, "ETag": etag, "Vary": "Accept-Encoding"}
        if coding:
            headers["Content-Encoding"] = coding
        if etag in (request.headers.get("if-none-match") or ""):
            return Response(status_code=304, headers=headers)
        return Response(page.bodies[coding], media_type="text/html; charset=utf-8", headers=headers)
