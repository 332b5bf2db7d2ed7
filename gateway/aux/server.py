"""gateway-aux: the gateway's `/healthz` and the JSON bodies of the errors Traefik generates.

Standard library only, so it runs from any Python 3.11+ and in a tiny container.

- `GET /healthz`: 200 only when every service's `/readyz` answers 200, checked in parallel with
  short timeouts; otherwise 503 with each service's state.
- `GET /livez`: 200 while this process runs (its own container healthcheck).
- `/errors/<service>/<status>`: the target of Traefik's `errors` middleware. Trading and auth
  errors are FastAPI's `{"detail": ...}`; auction errors are the seed's envelope
  `{"success": false, "error": {"message", "code"}, "meta": {"timestamp"}}`.

Environment: AUTH_URL, TRADING_URL, AUCTION_URL, WEB_URL (the services' base URLs; *_URLS,
comma-separated, list a service's replicas, of which one ready is enough), GATEWAY_AUX_HOST
(default 127.0.0.1), GATEWAY_AUX_PORT (default 8081), HEALTH_TIMEOUT seconds (default 2).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The web app (web) is checked by /healthz like the APIs; its gateway errors are `{"detail"}`.
SERVICES = ("auth", "trading", "auction", "web")
ENVELOPE_SERVICES = frozenset({"auction"})
_VALID_RID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# A larger body (only a path no service owns gets here with one) closes the connection instead.
MAX_DISCARD_BYTES = 1024 * 1024
_ERROR_PATH = re.compile(r"^/errors/(?P<service>[a-z]+)/(?P<status>[0-9]{3})$")

ERROR_CODES = {
    413: "PAYLOAD_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_message(service: str, status: int) -> str:
    if status == 413:
        return "Request body too large"
    if status == 429:
        return "Too many requests: wait before trying again"
    if status == 504:
        return f"The {service} service did not answer in time"
    if status in (502, 503):
        return f"The {service} service is unavailable, try again shortly"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_body(service: str, status: int) -> dict[str, Any]:
    """The error in the routed service's own format. Traefik's 502 (service unreachable)
    reaches clients as 503 (statusRewrites in dynamic.yml): the body says the same."""
    if status == 502:
        status = 503
    message = error_message(service, status)
    if service in ENVELOPE_SERVICES:
        return {
            "success": False,
            "error": {"message": message, "code": ERROR_CODES.get(status, "ERROR")},
            "meta": {"timestamp": now_iso()},
        }
    return {"detail": message}


def service_urls(env: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Each service's replicas: `<SERVICE>_URLS` (comma-separated, as the launcher gives
    Traefik), else the one `<SERVICE>_URL`."""
    env = dict(os.environ if env is None else env)
    urls = {}
    for name in SERVICES:
        listed = env.get(f"{name.upper()}_URLS") or env.get(f"{name.upper()}_URL") or ""
        found = [url.strip().rstrip("/") for url in listed.split(",") if url.strip()]
        if found:
            urls[name] = found
    return urls


def check_ready(url: str, timeout: float) -> str:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=timeout) as resp:  # noqa: S310
            return "ok" if resp.status == 200 else f"status {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"status {exc.code}"
    except (OSError, ValueError) as exc:
        return f"unreachable ({type(exc).__name__})"


class Handler(BaseHTTPRequestHandler):
    server_version = "gateway-aux"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    urls: dict[str, list[str]] = {}
    timeout_s: float = 2.0
    pool: ThreadPoolExecutor

    def _request_id(self) -> str:
        rid = self.headers.get("X-Request-ID", "")
        return rid if _VALID_RID.match(rid) else uuid.uuid4().hex

    def _discard_body(self) -> None:
        """Read the request's body and drop it: left unread on a kept-alive connection, its
        bytes would be taken for the next request's line (a 501 for the next client)."""
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if self.headers.get("Transfer-Encoding") or not length.isdigit():
            self.close_connection = True
            return
        remaining = int(length)
        if remaining > MAX_DISCARD_BYTES:
            self.close_connection = True
            return
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                break
            remaining -= len(chunk)

    def _send_json(
        self, status: int, body: dict[str, Any], rid: str, service: str | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Request-ID", rid)
        if status in (502, 503, 504):
            self.send_header("Retry-After", "1")
        elif status == 429:
            # login/register: the auth service's login window (60 s); auction's public bill
            # pages: the gateway's per-second rate limit
            self.send_header("Retry-After", "1" if service == "auction" else "60")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._log(status, rid)

    def _log(self, status: int, rid: str) -> None:
        # One JSON line: method, path without query, status, request id. Never headers.
        line = {
            "ts": now_iso(),
            "level": "info",
            "service": "gateway-aux",
            "msg": "request",
            "method": self.command,
            "path": self.path.split("?", 1)[0],
            "status": status,
            "request_id": rid,
        }
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    def _healthz(self, rid: str) -> None:
        futures = {
            name: [self.pool.submit(check_ready, url, self.timeout_s) for url in urls]
            for name, urls in self.urls.items()
        }
        states = {}
        for name, checks in futures.items():
            # A service is up while one replica is ready: the gateway routes around the rest.
            replica_states = [fut.result() for fut in checks]
            states[name] = "ok" if "ok" in replica_states else replica_states[0]
        missing = [name for name in SERVICES if name not in self.urls]
        for name in missing:
            states[name] = "not configured"
        ok = all(state == "ok" for state in states.values())
        body = {"status": "ok" if ok else "unavailable", "services": states}
        self._send_json(200 if ok else 503, body, rid)

    def _handle(self) -> None:
        self._discard_body()
        rid = self._request_id()
        path = self.path.split("?", 1)[0]
        if path == "/healthz" and self.command in ("GET", "HEAD"):
            self._healthz(rid)
            return
        if path == "/livez":  # this process only (the container's healthcheck)
            self._send_json(200, {"status": "ok"}, rid)
            return
        match = _ERROR_PATH.match(path)
        if match and match["service"] in SERVICES:
            status = int(match["status"])
            if 400 <= status <= 599:
                service = match["service"]
                self._send_json(status, error_body(service, status), rid, service)
                return
        self._send_json(404, {"detail": "Not found"}, rid)

    # The errors middleware replays the client's method: answer every one of them.
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass  # replaced by _log (the default line would include the raw request line)


def main() -> None:
    host = os.environ.get("GATEWAY_AUX_HOST", "127.0.0.1")
    port = int(os.environ.get("GATEWAY_AUX_PORT", "8081"))
    Handler.urls = service_urls()
    Handler.timeout_s = float(os.environ.get("HEALTH_TIMEOUT", "2"))
    Handler.pool = ThreadPoolExecutor(max_workers=8)
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    started = json.dumps(
        {
            "ts": now_iso(),
            "level": "info",
            "service": "gateway-aux",
            "msg": f"listening on {host}:{port}",
            "services": Handler.urls,
        }
    )
    print(started, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        Handler.pool.shutdown(wait=False, cancel_futures=True)


if __name__ == "__main__":
    main()
