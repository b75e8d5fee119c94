"""Login, logout, who-am-I, and the public keys that verify our tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from evalroom.api.deps import AnyUser, Ctx, CurrentToken, require
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import ExpertLogin, LoginRequest, PrincipalPublic, TokenResponse
from evalroom.services import accounts, committee

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", summary="Exchange a staff username and password for a short-lived access token")
def login(ctx: Ctx, body: LoginRequest) -> TokenResponse:
    issued = accounts.login(ctx.store, ctx.tokens, ctx.settings, body.username, body.password)
    return TokenResponse(access_token=issued.token, expires_at=issued.expires_at, role=issued.principal.role)


@router.post("/expert-login", summary="Exchange the one-time code from check-in for an expert token (session and seat)")
def expert_login(ctx: Ctx, body: ExpertLogin) -> TokenResponse:
    issued = committee.redeem_login_code(ctx.store, ctx.tokens, body.code)
    return TokenResponse(access_token=issued.token, expires_at=issued.expires_at, role=issued.principal.role)


@router.post("/refresh", summary="Experts: a fresh token for the seat's current login (the old one is revoked)")
def refresh(ctx: Ctx, principal: Annotated[Principal, Depends(require(Role.EXPERT))], token: CurrentToken) -> TokenResponse:
    issued = committee.refresh_expert_token(ctx.store, ctx.tokens, principal, token.jti)
    return TokenResponse(access_token=issued.token, expires_at=issued.expires_at, role=issued.principal.role)


@router.post("/logout", status_code=204, summary="Revoke the presented token before it expires")
def logout(ctx: Ctx, _user: AnyUser, token: CurrentToken) -> None:
    accounts.revoke(ctx.store, token)


@router.get("/me", summary="The caller's role and bindings, as the token states them")
def me(_user: AnyUser, token: CurrentToken) -> PrincipalPublic:
    p = token.principal
    return PrincipalPublic(role=p.role, subject=p.subject, venue_id=p.venue_id, session_id=p.session_id, seat=p.seat,
                           supervised=dict(p.supervised), expires_at=token.expires_at)


@router.get("/jwks", summary="The public keys (JWK Set) that verify this coordinator's tokens")
def jwks(ctx: Ctx) -> dict[str, Any]:
    return ctx.keyring.jwks()
