"""Token routes: login, refresh, logout and the public signing keys."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ..dependencies import KeyRingDep, PasswordsDep, SessionDep, SettingsDep, ThrottleDep
from ..users.schemas import UserOut
from . import service
from .cookies import REFRESH_COOKIE, clear_auth_cookies, set_auth_cookies
from .schemas import JwksOut, LoginIn, RefreshIn, TokenOut
from .service import Issued
from .throttle import client_address

router = APIRouter(prefix="/auth", tags=["tokens"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _token_response(response: Response, settings: SettingsDep, issued: Issued) -> TokenOut:
    set_auth_cookies(
        response,
        settings,
        access=issued.access_token,
        refresh=issued.refresh_token,
        csrf=issued.csrf_token,
    )
    response.headers.update(NO_STORE)
    return TokenOut(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
        user=UserOut.model_validate(issued.user),
    )


def _presented_refresh_token(request: Request, data: RefreshIn | None) -> str | None:
    if data is not None and data.refresh_token:
        return data.refresh_token
    return request.cookies.get(REFRESH_COOKIE)


@router.post(
    "/login",
    response_model=TokenOut,
    responses={
        401: {"description": "Invalid email or password"},
        429: {"description": "Too many failed attempts for this email or address"},
    },
)
async def login(
    data: LoginIn,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    passwords: PasswordsDep,
    throttle: ThrottleDep,
) -> TokenOut:
    """Sign in: tokens in the body and as cookies."""
    issued = await service.login(
        session,
        settings=settings,
        keyring=keyring,
        passwords=passwords,
        throttle=throttle,
        email=data.email,
        password=data.password,
        address=client_address(request, settings.trusted_proxy_networks),
    )
    return _token_response(response, settings, issued)


@router.post(
    "/refresh",
    response_model=TokenOut,
    responses={401: {"description": "Invalid, expired or reused refresh token"}},
)
async def refresh(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    data: RefreshIn | None = None,
) -> TokenOut:
    """Rotate the refresh token (cookie or body) and issue new tokens."""
    issued = await service.refresh(
        session, settings=settings, keyring=keyring, token=_presented_refresh_token(request, data)
    )
    return _token_response(response, settings, issued)


@router.post("/logout", status_code=204, response_class=Response)
async def logout(
    request: Request, session: SessionDep, settings: SettingsDep, data: RefreshIn | None = None
) -> Response:
    """Sign out: revoke the login and clear the cookies (204 even without a token)."""
    await service.logout(session, _presented_refresh_token(request, data))
    response = Response(status_code=204, headers=NO_STORE)
    clear_auth_cookies(response, settings)
    return response


@router.get("/.well-known/jwks.json", response_model=JwksOut)
async def jwks(keyring: KeyRingDep, settings: SettingsDep) -> JSONResponse:
    """The public keys that sign access tokens."""
    cache = f"public, max-age={settings.jwks_max_age_seconds}"
    return JSONResponse(keyring.jwks(), headers={"Cache-Control": cache})
