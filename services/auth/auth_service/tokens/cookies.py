"""The three auth cookies: access (HttpOnly, Lax, /), refresh (HttpOnly, Strict, /auth) and the
script-readable CSRF token (Lax, /); Secure unless `cookie_secure` is off (local http)."""

from __future__ import annotations

from starlette.responses import Response

from servicekit.security import ACCESS_COOKIE, CSRF_COOKIE

from ..config import Settings

REFRESH_COOKIE = "refresh_token"
REFRESH_COOKIE_PATH = "/auth"


def set_auth_cookies(
    response: Response, settings: Settings, *, access: str, refresh: str, csrf: str
) -> None:
    secure = settings.cookie_secure
    response.set_cookie(
        ACCESS_COOKIE,
        access,
        max_age=settings.access_token_ttl_seconds,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    response.set_cookie(
        REFRESH_COOKIE,
        refresh,
        max_age=settings.refresh_token_ttl_seconds,
        path=REFRESH_COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=settings.refresh_token_ttl_seconds,
        path="/",
        secure=secure,
        httponly=False,
        samesite="lax",
    )


def clear_auth_cookies(response: Response, settings: Settings) -> None:
    secure = settings.cookie_secure
    response.delete_cookie(ACCESS_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
    response.delete_cookie(
        REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=secure, httponly=True, samesite="strict"
    )
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, httponly=False, samesite="lax")
