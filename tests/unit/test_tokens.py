"""Access tokens (evalroom.auth.tokens) and the signing key ring (evalroom.auth.keys).

Time only moves through a ManualClock; keys live in tmp_path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from timebase import BEIJING, T0, day

from evalroom.auth.keys import KeyRing, SigningKey
from evalroom.auth.tokens import (
    AUDIENCE_API,
    AUDIENCE_MEDIA,
    AUDIENCE_SITE,
    CLOCK_SKEW,
    MAX_LIFETIME,
    TokenService,
)
from evalroom.clock import ManualClock
from evalroom.domain.roles import Principal, Role, SupervisorLevel
from evalroom.errors import AuthError, ConfigError, ErrorCode

pytestmark = pytest.mark.dates

START = T0 + timedelta(hours=9, minutes=45)  # 18:45 in Beijing, 10:45 UTC on day(0)
ISSUER = "evalroom-test"
LIFETIME = timedelta(minutes=15)

ADMIN = Principal(role=Role.COORDINATOR_ADMIN, subject="root")
OPERATOR = Principal(role=Role.HALL_OPERATOR, subject="li", venue_id="venue-jinan")
AGENT = Principal(role=Role.SITE_AGENT, subject="venue-jinan", venue_id="venue-jinan")
EXPERT = Principal(role=Role.EXPERT, subject="expert-7", session_id="s-1", seat="A3")
SUPERVISOR = Principal(role=Role.SUPERVISOR, subject="wang",
                       supervised={"s-1": SupervisorLevel.PRIMARY, "s-2": SupervisorLevel.SECONDARY})
ALL_PRINCIPALS = [ADMIN, OPERATOR, AGENT, EXPERT, SUPERVISOR]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def ring(key_dir: Path, clock: ManualClock) -> KeyRing:
    KeyRing.add_key(key_dir, clock.now())
    return KeyRing.load(key_dir)


@pytest.fixture
def tokens(ring: KeyRing, clock: ManualClock) -> TokenService:
    return TokenService(ring, issuer=ISSUER, clock=clock, lifetime=LIFETIME)


def _assert_rejected(service: TokenService, token: Any, code: ErrorCode, *, audience: str = AUDIENCE_API) -> AuthError:
    with pytest.raises(AuthError) as info:
        service.verify(token, audience=audience)
    assert info.value.code is code, info.value.message
    assert info.value.http_status == 401
    return info.value


def _claims(clock: ManualClock, **changes: Any) -> dict[str, Any]:
    iat = int(clock.now().timestamp())
    claims: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE_API, "sub": "root", "iat": iat,
                              "exp": iat + 600, "jti": "jti-1", "role": "coordinator-admin"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(ring: KeyRing, claims: dict[str, Any]) -> str:
    """Sign ``claims`` with the ring's active key, bypassing TokenService.issue and its checks."""
    key = ring.active
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --- issue and verify -------------------------------------------------------------------------------------


@pytest.mark.parametrize("principal", ALL_PRINCIPALS, ids=lambda p: p.role.value)
def test_round_trip_for_every_role_keeps_bindings(tokens, principal):
    issued = tokens.issue(principal)
    verified = tokens.verify(issued.token)
    assert verified.principal == principal
    assert verified.principal.role is principal.role
    assert dict(verified.principal.supervised) == dict(principal.supervised)
    assert verified.jti == issued.jti
    assert verified.audience == AUDIENCE_API
    assert verified.expires_at == issued.expires_at == START + LIFETIME


def test_supervised_levels_come_back_as_enum_members(tokens):
    principal = tokens.verify(tokens.issue(SUPERVISOR).token).principal
    assert principal.supervises("s-1") is SupervisorLevel.PRIMARY
    assert principal.supervises("s-2") is SupervisorLevel.SECONDARY


@pytest.mark.parametrize("audience", [AUDIENCE_API, AUDIENCE_SITE, AUDIENCE_MEDIA])
def test_round_trip_for_every_audience(tokens, audience):
    verified = tokens.verify(tokens.issue(AGENT, audience=audience).token, audience=audience)
    assert verified.audience == audience
    assert verified.principal == AGENT


def test_issued_claims_and_header(tokens, ring):
    issued = tokens.issue(EXPERT)
    header = jwt.get_unverified_header(issued.token)
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    assert header["alg"] == "ES256" and header["kid"] == ring.active.kid
    iat = int(START.timestamp())
    assert claims == {"iss": ISSUER, "aud": AUDIENCE_API, "sub": "expert-7", "iat": iat,
                      "exp": iat + 15 * 60, "jti": issued.jti, "role": "expert", "sid": "s-1", "seat": "A3"}


def test_binding_claims_per_role(tokens):
    def claims_of(p: Principal) -> dict[str, Any]:
        return jwt.decode(tokens.issue(p).token, options={"verify_signature": False})

    assert claims_of(OPERATOR)["ven"] == "venue-jinan"
    assert claims_of(SUPERVISOR)["sup"] == {"s-1": "primary", "s-2": "secondary"}
    assert not {"ven", "sid", "seat", "sup"} & set(claims_of(ADMIN))


def test_each_token_gets_a_fresh_jti(tokens):
    jtis = {tokens.issue(ADMIN).jti for _ in range(5)}
    assert len(jtis) == 5


def test_issue_with_a_custom_lifetime(tokens):
    issued = tokens.issue(ADMIN, lifetime=timedelta(minutes=60))
    assert issued.expires_at == START + timedelta(minutes=60)
    assert tokens.verify(issued.token).expires_at == START + timedelta(minutes=60)


@pytest.mark.parametrize("lifetime", [timedelta(minutes=61), timedelta(seconds=-1)])
def test_issue_refuses_a_lifetime_outside_bounds(tokens, lifetime):
    with pytest.raises(ValueError, match="lifetime"):
        tokens.issue(ADMIN, lifetime=lifetime)


@pytest.mark.parametrize("lifetime", [timedelta(0), MAX_LIFETIME + timedelta(seconds=1)])
def test_service_refuses_a_lifetime_outside_bounds(ring, clock, lifetime):
    with pytest.raises(ValueError, match="lifetime"):
        TokenService(ring, issuer=ISSUER, clock=clock, lifetime=lifetime)


def test_issue_refuses_unknown_audience(tokens):
    with pytest.raises(ValueError, match="audience"):
        tokens.issue(ADMIN, audience="evalroom-other")


def test_issue_refuses_the_public_role(tokens):
    with pytest.raises(ValueError, match="public"):
        tokens.issue(Principal(role=Role.PUBLIC, subject="anonymous"))


# --- time -------------------------------------------------------------------------------------------------


def test_token_is_valid_one_second_before_expiry(tokens, clock):
    issued = tokens.issue(ADMIN)
    clock.advance(LIFETIME - timedelta(seconds=1))
    assert tokens.verify(issued.token).principal == ADMIN


def test_token_is_expired_at_expiry(tokens, clock):
    issued = tokens.issue(ADMIN)
    clock.advance(LIFETIME)
    _assert_rejected(tokens, issued.token, ErrorCode.TOKEN_EXPIRED)


def test_token_is_expired_after_expiry(tokens, clock):
    issued = tokens.issue(ADMIN)
    clock.advance(timedelta(days=1))
    _assert_rejected(tokens, issued.token, ErrorCode.TOKEN_EXPIRED)


def test_lifetime_longer_than_max_is_rejected(tokens, ring, clock):
    iat = int(clock.now().timestamp())
    token = _sign(ring, _claims(clock, exp=iat + int(MAX_LIFETIME.total_seconds()) + 1))
    err = _assert_rejected(tokens, token, ErrorCode.TOKEN_INVALID)
    assert "lifetime" in err.message


def test_lifetime_of_exactly_max_is_accepted(tokens, ring, clock):
    iat = int(clock.now().timestamp())
    token = _sign(ring, _claims(clock, exp=iat + int(MAX_LIFETIME.total_seconds())))
    assert tokens.verify(token).principal == ADMIN


def test_exp_not_after_iat_is_rejected(tokens, ring, clock):
    iat = int(clock.now().timestamp())
    err = _assert_rejected(tokens, _sign(ring, _claims(clock, exp=iat)), ErrorCode.TOKEN_INVALID)
    assert "lifetime" in err.message


def test_iat_in_the_future_beyond_skew_is_rejected(tokens, ring, clock):
    iat = int((clock.now() + CLOCK_SKEW).timestamp()) + 1
    err = _assert_rejected(tokens, _sign(ring, _claims(clock, iat=iat, exp=iat + 600)), ErrorCode.TOKEN_INVALID)
    assert "future" in err.message


def test_iat_in_the_future_within_skew_is_accepted(tokens, ring, clock):
    iat = int((clock.now() + CLOCK_SKEW).timestamp())
    assert tokens.verify(_sign(ring, _claims(clock, iat=iat, exp=iat + 600))).principal == ADMIN


def test_non_integer_times_are_rejected(tokens, ring, clock):
    iat = int(clock.now().timestamp())
    err = _assert_rejected(tokens, _sign(ring, _claims(clock, exp=iat + 600.5)), ErrorCode.TOKEN_INVALID)
    assert "must be integers" in err.message


# --- audience, issuer, keys -------------------------------------------------------------------------------


def test_wrong_audience_is_rejected(tokens):
    issued = tokens.issue(AGENT, audience=AUDIENCE_SITE)
    _assert_rejected(tokens, issued.token, ErrorCode.TOKEN_WRONG_AUDIENCE, audience=AUDIENCE_API)


def test_api_token_is_not_accepted_on_media_channel(tokens):
    _assert_rejected(tokens, tokens.issue(EXPERT).token, ErrorCode.TOKEN_WRONG_AUDIENCE, audience=AUDIENCE_MEDIA)


def test_wrong_issuer_is_rejected(tokens, ring, clock):
    other = TokenService(ring, issuer="someone-else", clock=clock, lifetime=LIFETIME)
    err = _assert_rejected(tokens, other.issue(ADMIN).token, ErrorCode.TOKEN_INVALID)
    assert "issued by someone else" in err.message


def test_token_from_a_foreign_key_ring_is_rejected(tokens, tmp_path, clock):
    foreign_ring = KeyRing([KeyRing.add_key(tmp_path / "foreign", clock.now())])
    foreign = TokenService(foreign_ring, issuer=ISSUER, clock=clock, lifetime=LIFETIME)
    err = _assert_rejected(tokens, foreign.issue(ADMIN).token, ErrorCode.TOKEN_INVALID)
    assert "does not know" in err.message


def test_token_from_a_foreign_key_reusing_our_kid_fails_the_signature(tokens, ring, clock):
    impostor = SigningKey(ring.active.kid, ec.generate_private_key(ec.SECP256R1()))
    forged = TokenService(KeyRing([impostor]), issuer=ISSUER, clock=clock, lifetime=LIFETIME).issue(ADMIN)
    err = _assert_rejected(tokens, forged.token, ErrorCode.TOKEN_INVALID)
    assert "does not verify" in err.message


def test_token_without_kid_is_rejected(tokens, ring, clock):
    token = jwt.encode(_claims(clock), ring.active.private_key, algorithm="ES256")
    err = _assert_rejected(tokens, token, ErrorCode.TOKEN_INVALID)
    assert "does not know" in err.message


def test_alg_none_token_is_rejected(tokens, ring, clock):
    token = jwt.encode(_claims(clock), None, algorithm="none", headers={"kid": ring.active.kid})
    err = _assert_rejected(tokens, token, ErrorCode.TOKEN_INVALID)
    assert "ES256" in err.message


def test_hand_built_alg_none_token_is_rejected(tokens, ring, clock):
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": ring.active.kid}).encode())
    payload = _b64url(json.dumps(_claims(clock)).encode())
    _assert_rejected(tokens, f"{header}.{payload}.", ErrorCode.TOKEN_INVALID)


def test_hs256_signed_with_the_public_key_pem_is_rejected(tokens, ring, clock):
    # Algorithm confusion: a verifier that let the token pick the algorithm would take the public key PEM as
    # an HMAC secret. Built by hand because pyjwt itself refuses PEM keys as HMAC secrets.
    pem = ring.active.public_key.public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": ring.active.kid}).encode())
    payload = _b64url(json.dumps(_claims(clock)).encode())
    signature = _b64url(hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    err = _assert_rejected(tokens, f"{header}.{payload}.{signature}", ErrorCode.TOKEN_INVALID)
    assert "HS256" in err.message


def test_es256_header_over_an_hmac_signature_is_rejected(tokens, ring, clock):
    # The same confusion with the header claiming ES256: the signature must still be a real ECDSA one.
    pem = ring.active.public_key.public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    header = _b64url(json.dumps({"alg": "ES256", "typ": "JWT", "kid": ring.active.kid}).encode())
    payload = _b64url(json.dumps(_claims(clock)).encode())
    signature = _b64url(hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    _assert_rejected(tokens, f"{header}.{payload}.{signature}", ErrorCode.TOKEN_INVALID)


def test_tampered_payload_is_rejected(tokens, clock):
    header, _, signature = tokens.issue(OPERATOR).token.split(".")
    iat = int(clock.now().timestamp())
    forged = _b64url(json.dumps({"iss": ISSUER, "aud": AUDIENCE_API, "sub": "li", "iat": iat, "exp": iat + 600,
                                 "jti": "x", "role": "coordinator-admin"}).encode())
    _assert_rejected(tokens, f"{header}.{forged}.{signature}", ErrorCode.TOKEN_INVALID)


# --- claims -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "iat", "exp", "jti"])
def test_missing_required_claim_is_rejected(tokens, ring, clock, claim):
    claims = _claims(clock)
    del claims[claim]
    err = _assert_rejected(tokens, _sign(ring, claims), ErrorCode.TOKEN_INVALID)
    assert f"lacks the {claim!r} claim" in err.message


def test_empty_jti_is_rejected(tokens, ring, clock):
    err = _assert_rejected(tokens, _sign(ring, _claims(clock, jti="")), ErrorCode.TOKEN_INVALID)
    assert "'jti'" in err.message


def test_hand_signed_valid_token_is_accepted(tokens, ring, clock):
    # The control for the hand-signed rejections below: the helper itself makes acceptable tokens.
    verified = tokens.verify(_sign(ring, _claims(clock)))
    assert verified.principal == ADMIN and verified.jti == "jti-1"


@pytest.mark.parametrize("changes, why", [
    ({"role": "janitor"}, "not a valid Role"),
    ({"role": None}, "not a valid Role"),
    ({"role": "hall-operator"}, "needs a venue binding"),
    ({"role": "site-agent"}, "needs a venue binding"),
    ({"role": "coordinator-admin", "ven": "venue-jinan"}, "must not have a venue binding"),
    ({"role": "expert", "sid": "s-1"}, "needs a session and seat binding"),
    ({"role": "expert", "seat": "A3"}, "needs a session and seat binding"),
    ({"role": "supervisor", "sup": {"s-1": "boss"}}, "not a valid SupervisorLevel"),
    ({"role": "supervisor", "sup": ["s-1"]}, "'sup' must be an object"),
    ({"role": "hall-operator", "ven": "v", "sup": {"s-1": "primary"}}, "cannot supervise"),
    ({"sub": ""}, "'sub' must be a non-empty string"),
], ids=repr)
def test_invalid_role_or_bindings_are_rejected(tokens, ring, clock, changes, why):
    err = _assert_rejected(tokens, _sign(ring, _claims(clock, **changes)), ErrorCode.TOKEN_INVALID)
    assert why in err.message


@pytest.mark.parametrize("garbage", [
    "", "garbage", "a.b.c", "a.b", "....", "eyJhbGciOiJFUzI1NiJ9.e30.", "x" * 9000, None, 42, b"a.b.c",
], ids=lambda g: repr(g)[:20])
def test_garbage_is_rejected_as_invalid(tokens, garbage):
    _assert_rejected(tokens, garbage, ErrorCode.TOKEN_INVALID)


def test_garbage_with_our_kid_is_rejected(tokens, ring):
    header = _b64url(json.dumps({"alg": "ES256", "kid": ring.active.kid}).encode())
    _assert_rejected(tokens, f"{header}.bm90LWpzb24.c2ln", ErrorCode.TOKEN_INVALID)


# --- key rotation -----------------------------------------------------------------------------------------


def test_rotation_new_tokens_use_new_key_and_old_tokens_still_verify(key_dir, ring, tokens, clock):
    old_kid = ring.active.kid
    old_token = tokens.issue(EXPERT).token
    clock.advance(timedelta(seconds=1))
    new_key = KeyRing.add_key(key_dir, clock.now())
    assert new_key.kid > old_kid

    rotated = TokenService(KeyRing.load(key_dir), issuer=ISSUER, clock=clock, lifetime=LIFETIME)
    assert rotated.keyring.kids == [old_kid, new_key.kid]
    assert rotated.keyring.active.kid == new_key.kid
    new_token = rotated.issue(EXPERT).token
    assert jwt.get_unverified_header(new_token)["kid"] == new_key.kid
    assert rotated.verify(new_token).principal == EXPERT
    assert rotated.verify(old_token).principal == EXPERT


def test_retired_key_tokens_stop_verifying(key_dir, ring, tokens, clock):
    old_kid = ring.active.kid
    old_token = tokens.issue(ADMIN).token
    clock.advance(timedelta(seconds=1))
    KeyRing.add_key(key_dir, clock.now())
    KeyRing.retire(key_dir, old_kid)
    reloaded = TokenService(KeyRing.load(key_dir), issuer=ISSUER, clock=clock, lifetime=LIFETIME)
    assert old_kid not in reloaded.keyring.kids
    err = _assert_rejected(reloaded, old_token, ErrorCode.TOKEN_INVALID)
    assert "key" in err.message
    assert reloaded.verify(reloaded.issue(ADMIN).token).principal == ADMIN


def test_retire_refuses_the_last_key(key_dir, ring):
    with pytest.raises(ConfigError, match="only key"):
        KeyRing.retire(key_dir, ring.active.kid)
    assert (key_dir / f"{ring.active.kid}.pem").exists()


def test_retire_refuses_a_malformed_kid(key_dir, ring):
    with pytest.raises(ConfigError, match="not a key id"):
        KeyRing.retire(key_dir, "../evil")


def test_retire_refuses_an_unknown_kid(key_dir, ring):
    with pytest.raises(ConfigError, match="no key 20000101T000000Z-00000000"):
        KeyRing.retire(key_dir, "20000101T000000Z-00000000")


# --- the key ring -----------------------------------------------------------------------------------------


def test_add_key_writes_a_private_file_named_by_kid(key_dir, clock):
    key = KeyRing.add_key(key_dir, clock.now())
    assert key.kid.startswith(f"{day(0):%Y%m%d}T104500Z-")
    path = key_dir / f"{key.kid}.pem"
    assert path.is_file()
    assert os.stat(path).st_mode & 0o777 == 0o600
    loaded = KeyRing.load(key_dir)
    assert loaded.kids == [key.kid]
    assert loaded.active.public_key.public_numbers() == key.public_key.public_numbers()


def test_active_is_the_newest_key(clock):
    older = SigningKey("20260101T000000Z-ffffffff", ec.generate_private_key(ec.SECP256R1()))
    newer = SigningKey("20260102T000000Z-00000000", ec.generate_private_key(ec.SECP256R1()))
    ring = KeyRing([newer, older])
    assert ring.active is newer
    assert ring.kids == [older.kid, newer.kid]
    assert ring.get(older.kid) is older
    assert ring.get("nope") is None


def test_empty_key_ring_is_a_config_error():
    with pytest.raises(ConfigError, match="empty"):
        KeyRing([])


def test_load_missing_directory(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        KeyRing.load(tmp_path / "missing")


def test_load_directory_without_keys(tmp_path):
    (tmp_path / "README").write_text("not a key")
    with pytest.raises(ConfigError, match="holds no key"):
        KeyRing.load(tmp_path)


def test_load_badly_named_file(key_dir, clock):
    KeyRing.add_key(key_dir, clock.now())
    (key_dir / "my-key.pem").write_bytes((key_dir / f"{KeyRing.load(key_dir).active.kid}.pem").read_bytes())
    with pytest.raises(ConfigError, match="my-key.pem is not named <kid>.pem"):
        KeyRing.load(key_dir)


def test_load_non_ec_key(tmp_path):
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "20261121T104500Z-0a0b0c0d.pem").write_bytes(pem)
    with pytest.raises(ConfigError, match="not an ECDSA P-256 key"):
        KeyRing.load(tmp_path)


def test_load_ec_key_on_another_curve(tmp_path):
    pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "20261121T104500Z-0a0b0c0d.pem").write_bytes(pem)
    with pytest.raises(ConfigError, match="not an ECDSA P-256 key"):
        KeyRing.load(tmp_path)


def test_load_file_that_is_not_pem(tmp_path):
    (tmp_path / "20261121T104500Z-0a0b0c0d.pem").write_bytes(b"not a key at all")
    with pytest.raises(ConfigError, match="is not an unencrypted PEM private key"):
        KeyRing.load(tmp_path)


def test_load_encrypted_key_is_a_config_error(tmp_path):
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"))
    (tmp_path / "20261121T104500Z-0a0b0c0d.pem").write_bytes(pem)
    with pytest.raises(ConfigError):
        KeyRing.load(tmp_path)


def test_jwks_lists_every_public_key_with_es256(key_dir, ring, clock):
    clock.advance(timedelta(seconds=1))
    KeyRing.add_key(key_dir, clock.now())
    ring = KeyRing.load(key_dir)
    jwks = ring.jwks()
    assert [k["kid"] for k in jwks["keys"]] == ring.kids
    assert len(jwks["keys"]) == 2
    for jwk in jwks["keys"]:
        assert (jwk["alg"], jwk["kty"], jwk["crv"], jwk["use"]) == ("ES256", "EC", "P-256", "sig")
        assert "d" not in jwk  # never the private part


def test_jwks_keys_verify_our_tokens(ring, tokens):
    token = tokens.issue(ADMIN).token
    jwk = ring.jwks()["keys"][0]
    public = jwt.PyJWK.from_dict(jwk)
    claims = jwt.decode(token, public, algorithms=["ES256"], audience=AUDIENCE_API, issuer=ISSUER,
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["sub"] == "root"


def test_absurd_expiry_is_an_invalid_token_not_a_crash(tokens, ring, clock):
    _assert_rejected(tokens, _sign(ring, _claims(clock, exp=10**12)), ErrorCode.TOKEN_INVALID)


def test_kid_is_named_in_utc_whatever_the_clock_zone(tmp_path):
    half_past_nine = T0.astimezone(BEIJING) + timedelta(minutes=30)  # a clock that reads 09:30+08:00
    assert KeyRing.add_key(tmp_path, half_past_nine).kid.startswith(f"{day(0):%Y%m%d}T013000Z-")


def test_keys_made_in_the_same_second_activate_in_creation_order(tmp_path, clock):
    kids = [KeyRing.add_key(tmp_path, clock.now()).kid for _ in range(5)]
    assert kids == sorted(kids)
    assert KeyRing.load(tmp_path).active.kid == kids[-1]
