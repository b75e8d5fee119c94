"""Access tokens: short-lived JWTs, ES256 only, bound to an audience and to the principal's venue/session/seat.

Claims (all of ``iss aud sub iat exp jti`` are required; docs/api.md lists them)::

    iss   this coordinator (settings.issuer)        aud   the channel: evalroom-api, evalroom-site, evalroom-media
    sub   who                                       role  evalroom.domain.roles.Role value
    iat   issued at (seconds)                       exp   expiry; lifetime at most MAX_LIFETIME
    jti   unique id, for revocation                 ven   venue id (hall operator, site agent)
    sid, seat   session and seat (expert)           sup   {session id: primary|secondary} (a minted supervisor's)

A login gives a supervisor no ``sup``: their sessions are looked up per request (services.accounts.current_principal).

Why verification does its own time checks: expiry must follow the injected clock (tests move time; an
archived token is judged at a given instant), so pyjwt checks signature, algorithm, audience, issuer and
presence of claims, and :meth:`TokenService.verify` checks ``iat``/``exp`` against ``clock.now()``.

Only ES256 is ever accepted, and the key is chosen by ``kid`` from our own key ring, so ``alg: none`` and
HMAC-with-the-public-key confusion are impossible by construction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from evalroom.auth.keys import KeyDirectory, KeyRing
from evalroom.clock import Clock
from evalroom.domain.roles import Principal, Role, SupervisorLevel
from evalroom.errors import AuthError, ErrorCode

__all__ = [
    "ALGORITHM",
    "AUDIENCE_API",
    "AUDIENCE_MEDIA",
    "AUDIENCE_SITE",
    "MAX_LIFETIME",
    "IssuedToken",
    "TokenService",
    "VerifiedToken",
]

ALGORITHM = "ES256"
AUDIENCE_API = "evalroom-api"
"""REST calls and the session event websocket."""
AUDIENCE_SITE = "evalroom-site"
"""The site agent's channel to the coordinator."""
AUDIENCE_MEDIA = "evalroom-media"
"""Media signaling."""
AUDIENCES = frozenset({AUDIENCE_API, AUDIENCE_SITE, AUDIENCE_MEDIA})

MAX_LIFETIME = timedelta(minutes=60)
"""No token lives longer than this, whoever signed it."""
CLOCK_SKEW = timedelta(seconds=30)
"""Tolerated difference between the issuer's clock and ours, for ``iat`` in the future."""

_REQUIRED = ["iss", "aud", "sub", "iat", "exp", "jti"]


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime
    principal: Principal


@dataclass(frozen=True)
class VerifiedToken:
    principal: Principal
    jti: str
    audience: str
    expires_at: datetime


def _invalid(message: str) -> AuthError:
    return AuthError(ErrorCode.TOKEN_INVALID, message)


class TokenService:
    def __init__(self, keyring: KeyRing | KeyDirectory, *, issuer: str, clock: Clock, lifetime: timedelta) -> None:
        if not timedelta(0) < lifetime <= MAX_LIFETIME:
            raise ValueError(f"token lifetime must be within (0, {MAX_LIFETIME}] (got {lifetime})")
        self.keyring = keyring
        self.issuer = issuer
        self.clock = clock
        self.lifetime = lifetime

    def issue(self, principal: Principal, *, audience: str = AUDIENCE_API,
              lifetime: timedelta | None = None) -> IssuedToken:
        if audience not in AUDIENCES:
            raise ValueError(f"'audience' must be in {sorted(AUDIENCES)} (got {audience!r})")
        if principal.role is Role.PUBLIC:
            raise ValueError("the public role needs no token")
        lifetime = lifetime or self.lifetime
        if not timedelta(0) < lifetime <= MAX_LIFETIME:
            raise ValueError(f"token lifetime must be within (0, {MAX_LIFETIME}] (got {lifetime})")
        now = self.clock.now()
        iat = int(now.timestamp())
        exp = iat + int(lifetime.total_seconds())
        jti = secrets.token_urlsafe(16)
        claims: dict[str, Any] = {"iss": self.issuer, "aud": audience, "sub": principal.subject, "iat": iat,
                                  "exp": exp, "jti": jti, "role": principal.role.value}
        if principal.venue_id is not None:
            claims["ven"] = principal.venue_id
        if principal.session_id is not None:
            claims["sid"], claims["seat"] = principal.session_id, principal.seat
        if principal.supervised:
            claims["sup"] = {sid: lvl.value for sid, lvl in principal.supervised.items()}
        key = self.keyring.active
        token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
        return IssuedToken(token=token, jti=jti, expires_at=datetime.fromtimestamp(exp, UTC), principal=principal)

    def verify(self, token: str, *, audience: str = AUDIENCE_API) -> VerifiedToken:
        """The principal of a valid token for ``audience``; raises AuthError with the precise code otherwise."""
        if not isinstance(token, str) or not token or len(token) > 8192:
            raise _invalid("the token is empty or too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid("the token is not a well-formed JWT") from None
        if header.get("alg") != ALGORITHM:
            raise _invalid(f"only {ALGORITHM} tokens are accepted (got alg {header.get('alg')!r})")
        key = self.keyring.get(str(header.get("kid")))
        if key is None:
            raise _invalid("the token was signed by a key this coordinator does not know (retired or foreign)")
        try:
            claims = jwt.decode(token, key.public_key, algorithms=[ALGORITHM], audience=audience,
                                issuer=self.issuer,
                                options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False,
                                         "verify_nbf": False})
        except jwt.InvalidAudienceError:
            raise AuthError(ErrorCode.TOKEN_WRONG_AUDIENCE, f"the token is not for {audience}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _invalid(f"the token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidIssuerError:
            raise _invalid("the token was issued by someone else") from None
        except jwt.PyJWTError as exc:
            raise _invalid(f"the token does not verify: {exc}") from None
        return VerifiedToken(principal=self._principal(claims), jti=self._str(claims, "jti"),
                             audience=audience, expires_at=self._check_times(claims))

    def _check_times(self, claims: dict[str, Any]) -> datetime:
        iat, exp = claims["iat"], claims["exp"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
            raise _invalid("'iat' and 'exp' must be integers")
        now = self.clock.now()
        try:
            issued, expires = datetime.fromtimestamp(iat, UTC), datetime.fromtimestamp(exp, UTC)
        except (OverflowError, ValueError, OSError):
            raise _invalid("'iat' or 'exp' is not a representable time") from None
        if issued > now + CLOCK_SKEW:
            raise _invalid("the token was issued in the future")
        if expires - issued > MAX_LIFETIME or expires <= issued:
            raise _invalid(f"the token's lifetime is not within (0, {MAX_LIFETIME}]")
        if now >= expires:
            raise AuthError(ErrorCode.TOKEN_EXPIRED, "the token has expired; log in again")
        return expires

    @staticmethod
    def _str(claims: dict[str, Any], name: str) -> str:
        value = claims.get(name)
        if not isinstance(value, str) or not value:
            raise _invalid(f"claim {name!r} must be a non-empty string")
        return value

    def _principal(self, claims: dict[str, Any]) -> Principal:
        try:
            role = Role(claims.get("role"))
            sup = claims.get("sup") or {}
            if not isinstance(sup, dict):
                raise ValueError("'sup' must be an object")
            return Principal(role=role, subject=self._str(claims, "sub"), venue_id=claims.get("ven"),
                             session_id=claims.get("sid"), seat=claims.get("seat"),
                             supervised={str(k): SupervisorLevel(v) for k, v in sup.items()})
        except ValueError as exc:
            raise _invalid(f"the token's role or bindings are invalid: {exc}") from None
