"""Dependencies shared by the routes: the context, the caller's verified token, and role requirements.

Every route that is not public declares the roles that may call it with one of the ``require`` aliases; the
role matrix test (tests/integration/test_role_matrix.py) holds an independent table of what each route must
allow and calls every route as every role.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from evalroom.api.context import AppContext
from evalroom.auth.tokens import AUDIENCE_API, VerifiedToken
from evalroom.domain.roles import Principal, Role
from evalroom.errors import ApiError, AuthError, ErrorCode, ForbiddenError
from evalroom.services.accounts import current_principal

__all__ = ["Admin", "AnyUser", "Ctx", "CurrentToken", "authenticate", "aware", "require"]


def aware(value: datetime, name: str) -> datetime:
    """A time from a query string must carry its zone (bodies use schemas.Time, which insists on it)."""
    if value.tzinfo is None:
        raise ApiError(ErrorCode.INVALID_INPUT, f"'{name}' needs a time zone, e.g. 2026-12-01T09:00:00+08:00")
    return value


def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /api/v1/auth/login")


def authenticate(ctx: AppContext, token: str | None, audience: str = AUDIENCE_API) -> VerifiedToken:
    """Verify a bearer token, check it was not revoked, and give a supervisor's principal their sessions as
    assigned now. Shared by HTTP routes and websockets."""
    if not token:
        raise AuthError(ErrorCode.NOT_AUTHENTICATED, "this needs a bearer token (Authorization: Bearer ...)")
    verified = ctx.tokens.verify(token, audience=audience)
    principal = current_principal(ctx.store, verified)  # revoked? a supervisor's sessions
    return verified if principal is verified.principal else replace(verified, principal=principal)


def _current_token(ctx: Ctx, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> VerifiedToken:
    return authenticate(ctx, creds.credentials if creds else None)


CurrentToken = Annotated[VerifiedToken, Depends(_current_token)]


def require(*roles: Role):  # noqa: ANN201 - returns a FastAPI dependency
    """A dependency that yields the caller's principal if their role is one of ``roles``, else 403."""
    allowed = frozenset(roles)

    def dependency(token: CurrentToken) -> Principal:
        if token.principal.role not in allowed:
            raise ForbiddenError(f"a {token.principal.role} may not do this")
        return token.principal

    dependency.__name__ = "require_" + "_or_".join(r.name.lower() for r in roles)
    return dependency


_AUTHENTICATED = tuple(r for r in Role if r is not Role.PUBLIC)
AnyUser = Annotated[Principal, Depends(require(*_AUTHENTICATED))]
Admin = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN))]
