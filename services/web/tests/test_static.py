"""The web service in process, on a small build of its own (no Node needed): which paths get
the page, which files are served how, and the headers that make it safe to cache and run."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from web_service.config import Settings
from web_service.main import create_app
from web_service.static import CSP, accepted_encodings, is_app_path

PAGE = b'<!doctype html><title>t</title><script type="module" src="/assets/main-AB12CD34.js">'
SCRIPT = b"console.log('hello');" * 40


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    assets = tmp_path / "assets" / "chunks"
    assets.mkdir(parents=True)
    (tmp_path / "index.html").write_bytes(PAGE)
    (tmp_path / "index.html.gz").write_bytes(gzip.compress(PAGE))
    main = tmp_path / "assets" / "main-AB12CD34.js"
    main.write_bytes(SCRIPT)
    (tmp_path / "assets" / "main-AB12CD34.js.gz").write_bytes(gzip.compress(SCRIPT))
    (tmp_path / "assets" / "main-AB12CD34.js.br").write_bytes(b"pretend-brotli")
    (assets / "replay-XY.js").write_bytes(b"export{};")
    (tmp_path / "assets" / ".hidden").write_bytes(b"secret")
    (tmp_path / "manifest.json").write_text("{}")
    return tmp_path


@pytest.fixture
async def client(dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(dist_dir=dist))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as c:
        yield c


def test_accept_encoding_is_read_with_its_weights() -> None:
    assert accepted_encodings("gzip, deflate, br, zstd") == {"gzip", "deflate", "br", "zstd"}
    assert accepted_encodings("br;q=0, gzip;q=0.5") == {"gzip"}
    assert accepted_encodings("GZIP ; q=1") == {"gzip"}
    assert accepted_encodings("br;q=x") == set()
    assert accepted_encodings(None) == set()


def test_app_paths_are_the_routers_and_nothing_that_only_starts_like_them() -> None:
    for path in ("/", "/signin", "/signup", "/trade", "/trade/sessions/1", "/auction/x", "/docs"):
        assert is_app_path(path), path
    for path in ("/tradeX", "/signin/x", "/api", "/sessions", "/docsy", "/index.html", ""):
        assert not is_app_path(path), path


@pytest.mark.parametrize("path", ["/", "/signin", "/trade/sessions/7", "/docs/auth"])
async def test_app_paths_get_the_page_with_the_strict_csp(
    client: httpx.AsyncClient, path: str
) -> None:
    resp = await client.get(path, headers={"Accept-Encoding": "identity"})
    assert resp.status_code == 200
    assert resp.content == PAGE
    assert resp.headers["content-security-policy"] == CSP
    assert "script-src 'self';" in CSP and "'unsafe-inline'" not in CSP
    assert resp.headers["cache-control"] == "no-cache"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-request-id"]
    etag = resp.headers["etag"]
    again = await client.get(path, headers={"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert again.status_code == 304 and again.content == b""
    zipped = await client.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["etag"] != etag  # another representation, another tag
    assert zipped.content == PAGE  # httpx decodes it


@pytest.mark.parametrize("path", ["/x", "/tradeX", "/api/sessions", "/index.html"])
async def test_other_paths_are_a_json_404(client: httpx.AsyncClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.status_code == 404
    assert resp.json() == {"detail": "Not found"}


async def test_assets_are_immutable_and_precompressed_by_accept_encoding(
    client: httpx.AsyncClient,
) -> None:
    path = "/assets/main-AB12CD34.js"
    br = await client.get(path, headers={"Accept-Encoding": "gzip, br"})
    assert br.headers["content-encoding"] == "br"
    assert br.headers["content-length"] == str(len(b"pretend-brotli"))
    zipped = await client.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == SCRIPT
    plain = await client.get(path, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == SCRIPT
    for resp in (br, zipped, plain):
        assert resp.status_code == 200
        assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert resp.headers["content-type"] == "text/javascript; charset=utf-8"
        assert resp.headers["vary"] == "Accept-Encoding"
    # A file without compressed copies is served as it is.
    chunk = await client.get("/assets/chunks/replay-XY.js", headers={"Accept-Encoding": "br"})
    assert chunk.status_code == 200 and "content-encoding" not in chunk.headers
    head = await client.head(path)
    assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/assets/missing-1.js",
        "/assets/main-AB12CD34.js.gz",
        "/assets/.hidden",
        "/assets/../index.html",
        "/assets/%2e%2e/index.html",
        "/assets/chunks/../../manifest.json",
        "/assets/",
    ],
)
async def test_nothing_but_built_files_under_assets(client: httpx.AsyncClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/json"


async def test_encoded_separators_are_refused(client: httpx.AsyncClient) -> None:
    resp = await client.get("/trade%2Fsessions")
    assert resp.status_code == 404


async def test_writes_are_not_allowed(client: httpx.AsyncClient) -> None:
    assert (await client.post("/signin", json={})).status_code == 405


async def test_without_a_build_the_page_is_503_and_not_ready(tmp_path: Path) -> None:
    app = create_app(Settings(dist_dir=tmp_path / "none"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
        page = await client.get("/")
        ready = await client.get("/readyz")
    assert page.status_code == 503
    assert "make install" in page.json()["detail"]
    assert ready.status_code == 503


async def test_a_rebuild_is_served_without_a_restart(client: httpx.AsyncClient, dist: Path) -> None:
    first = await client.get("/", headers={"Accept-Encoding": "identity"})
    (dist / "index.html.gz").unlink()
    new_page = PAGE.replace(b"AB12CD34", b"EF56GH78")
    (dist / "index.html").write_bytes(new_page)
    second = await client.get("/", headers={"Accept-Encoding": "identity"})
    assert second.content == new_page
    assert second.headers["etag"] != first.headers["etag"]
