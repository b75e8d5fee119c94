"""The site-link envelope (sites/protocol.py), without sockets: signatures, channel binding, replay and
freshness checks, and the agent's message bodies."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from hypothesis import given
from hypothesis import strategies as st
from timebase import T0, iso

from sites.errors import RuleViolation
from sites.protocol import (
    Channel,
    Confirm,
    Ed25519Signer,
    ES256Signer,
    Inventory,
    credential_id,
    decode,
    ed25519_verify,
    encode,
    es256_verifier,
    load_agent_key,
    parse_body,
)

pytestmark = pytest.mark.dates

NOW = T0  # 09:00 in Beijing, 01:00 UTC on day(0)
SKEW = timedelta(minutes=2)
AGENT = Ed25519Signer(ed25519.Ed25519PrivateKey.generate())
OTHER = Ed25519Signer(ed25519.Ed25519PrivateKey.generate())
COORD_KEY = ec.generate_private_key(ec.SECP256R1())
COORD = ES256Signer(kid="k1", private_key=COORD_KEY)


def agent_verify(kid: str, data: bytes, sig: bytes) -> bool:
    return kid == AGENT.kid and ed25519_verify(AGENT.private_key.public_key(), data, sig)


coord_verify = es256_verifier(lambda kid: COORD_KEY.public_key() if kid == "k1" else None)


def pair(ch: str = "c" * 32) -> tuple[Channel, Channel]:
    return Channel(ch, skew=SKEW), Channel(ch, skew=SKEW)


def roundtrip(env: dict[str, Any]) -> dict[str, Any]:
    return decode(encode(env))


def test_sealed_messages_open_in_order_in_both_directions() -> None:
    agent, coord = pair()
    for i in range(1, 4):
        kind, body = coord.open(roundtrip(agent.seal("heartbeat", {}, now=NOW, signer=AGENT)), now=NOW,
                                verify=agent_verify)
        assert (kind, body, coord.received) == ("heartbeat", {}, i)
    kind, body = agent.open(roundtrip(coord.seal("welcome", {"head": 5}, now=NOW, signer=COORD)), now=NOW,
                            verify=coord_verify)
    assert (kind, body) == ("welcome", {"head": 5})


def test_a_message_sent_twice_is_refused_and_the_channel_is_unchanged() -> None:
    agent, coord = pair()
    env = agent.seal("heartbeat", {}, now=NOW, signer=AGENT)
    coord.open(env, now=NOW, verify=agent_verify)
    with pytest.raises(RuleViolation) as exc:
        coord.open(env, now=NOW, verify=agent_verify)
    assert exc.value.code == "message_replayed" and coord.received == 1


def test_a_gap_in_numbers_is_refused() -> None:
    agent, coord = pair()
    agent.seal("heartbeat", {}, now=NOW, signer=AGENT)  # never delivered
    with pytest.raises(RuleViolation) as exc:
        coord.open(agent.seal("heartbeat", {}, now=NOW, signer=AGENT), now=NOW, verify=agent_verify)
    assert exc.value.code == "validation_failed" and coord.received == 0


def test_a_message_of_another_connection_does_not_verify() -> None:
    agent, _ = pair("a" * 32)
    _, coord = pair("b" * 32)
    with pytest.raises(RuleViolation) as exc:
        coord.open(agent.seal("heartbeat", {}, now=NOW, signer=AGENT), now=NOW, verify=agent_verify)
    assert exc.value.code == "signature_invalid"


@pytest.mark.parametrize("field,value", [("body", {"after": 9}), ("type", "confirm"), ("n", 2),
                                         ("ts", f"{iso(0)}T01:00:01.000000Z"),  # NOW + 1 s: within the skew
                                         ("kid", OTHER.kid)],
                         # ids name the field only: the values include a random key id, and pytest-xdist's
                         # workers must collect the same ids.
                         ids=["body", "type", "n", "ts", "kid"])
def test_any_altered_field_breaks_the_signature(field: str, value: Any) -> None:
    agent, coord = pair()
    env = agent.seal("hello", {"after": 0}, now=NOW, signer=AGENT)
    env[field] = value
    with pytest.raises(RuleViolation) as exc:
        coord.open(env, now=NOW, verify=agent_verify)
    assert exc.value.code == "signature_invalid"


def test_a_signature_by_another_key_is_refused() -> None:
    agent, coord = pair()
    env = agent.seal("hello", {}, now=NOW, signer=OTHER)
    env["kid"] = AGENT.kid
    with pytest.raises(RuleViolation) as exc:
        coord.open(env, now=NOW, verify=agent_verify)
    assert exc.value.code == "signature_invalid"


@pytest.mark.parametrize("offset,ok", [(timedelta(0), True), (SKEW, True), (-SKEW, True),
                                       (SKEW + timedelta(microseconds=1), False),
                                       (-SKEW - timedelta(microseconds=1), False)])
def test_freshness_window(offset: timedelta, ok: bool) -> None:
    agent, coord = pair()
    env = agent.seal("heartbeat", {}, now=NOW + offset, signer=AGENT)
    if ok:
        coord.open(env, now=NOW, verify=agent_verify)
    else:
        with pytest.raises(RuleViolation) as exc:
            coord.open(env, now=NOW, verify=agent_verify)
        assert exc.value.code == "message_stale" and coord.received == 0


@pytest.mark.parametrize("mutate", [
    lambda e: e.pop("sig"), lambda e: e.update(extra=1), lambda e: e.update(v=2), lambda e: e.update(n="1"),
    lambda e: e.update(n=True), lambda e: e.update(body=[]), lambda e: e.update(sig=5),
])
def test_malformed_envelopes_are_refused(mutate: Any) -> None:
    agent, coord = pair()
    env = agent.seal("heartbeat", {}, now=NOW, signer=AGENT)
    mutate(env)
    with pytest.raises(RuleViolation) as exc:
        coord.open(env, now=NOW, verify=agent_verify)
    assert exc.value.code in ("validation_failed", "signature_invalid") and coord.received == 0


def test_decode_refuses_what_is_not_one_json_object() -> None:
    for frame, code in (("{", "malformed_json"), ("[]", "validation_failed"), (b"{}", "validation_failed"),
                        ("x" * (1024 * 1024 + 1), "validation_failed")):
        with pytest.raises(RuleViolation) as exc:
            decode(frame)
        assert exc.value.code == code


def test_es256_signatures_are_raw_64_bytes_and_checked_against_the_named_key() -> None:
    _, coord = pair()
    env = coord.seal("welcome", {}, now=NOW, signer=COORD)
    assert len(base64.urlsafe_b64decode(env["sig"] + "==")) == 64
    agent, _ = pair()
    env["kid"] = "unknown"
    with pytest.raises(RuleViolation):
        agent.open(env, now=NOW, verify=coord_verify)


def test_credential_ids_derive_from_the_public_key() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    loaded = load_agent_key(pem)
    assert credential_id(loaded.public_key()) == credential_id(key.public_key())
    assert credential_id(key.public_key()).startswith("vk-") and len(credential_id(key.public_key())) == 27
    assert key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) != b""
    ec_pem = COORD_KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with pytest.raises(ValueError):
        load_agent_key(ec_pem)


def test_bodies_are_validated_strictly() -> None:
    assert isinstance(parse_body("confirm", {"offer_id": "o", "version": 1}), Confirm)
    inv = parse_body("inventory", {"rooms": [{"code": "R1", "name": "室", "kind": "single", "seats": [
        {"code": "A-01", "devices": {"pc": "ok", "camera": "fault"}}]}]})
    assert isinstance(inv, Inventory)
    for kind, body in (("confirm", {"offer_id": "o", "version": "1"}), ("confirm", {"offer_id": "o", "version": 0}),
                       ("decline", {"offer_id": "o", "version": 1, "reason": ""}), ("heartbeat", {"x": 1}),
                       ("inventory", {"rooms": [{"code": "R1", "name": "n", "kind": "hall", "seats": []}]}),
                       ("inventory", {"rooms": [{"code": "R1", "name": "n", "kind": "single",
                                                 "seats": [{"code": "A", "devices": {"gpu": "ok"}}]}]}),
                       ("launch", {})):
        with pytest.raises(RuleViolation) as exc:
            parse_body(kind, body)
        assert exc.value.code == "validation_failed", (kind, body)


@given(st.dictionaries(st.text(max_size=5), st.one_of(st.integers(-10**9, 10**9), st.text(max_size=10)), max_size=5))
def test_any_body_survives_the_wire(body: dict[str, Any]) -> None:
    agent, coord = pair()
    assert coord.open(roundtrip(agent.seal("x", body, now=NOW, signer=AGENT)), now=NOW, verify=agent_verify)[1] == body
