"""The coordinator's trust registry (services/trust.py): regions' CA certificates and CRLs registered by the
admin and checked first, the recognition list, the trust store built from it, and the bundle it exports for
``evalroom verify``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from committee_world import API
from conftest import ok, refused, snapshot
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi.testclient import TestClient

from evalroom.api.context import AppContext
from evalroom.domain.roles import Principal, Role
from evalroom.services import trust
from signing.canonical import canonical_json
from signing.cms import sign_detached, software_signer
from signing.pki import RegionCA, issue_crl, issue_region_ca, issue_signer
from signing.trust import load_bundle
from signing.verify import verify_file

pytestmark = pytest.mark.dates

NOW = dt.datetime.now(dt.UTC)


def pem(*objs: x509.Certificate | x509.CertificateRevocationList) -> str:
    return b"".join(o.public_bytes(Encoding.PEM) for o in objs).decode()


@pytest.fixture
def admin(ctx: AppContext) -> dict[str, str]:
    token = ctx.tokens.issue(Principal(role=Role.COORDINATOR_ADMIN, subject="admin")).token
    return {"Authorization": f"Bearer {token}"}


def region(client: TestClient, admin: dict[str, str], code: str) -> str:
    return ok(client.post(f"{API}/regions", headers=admin, json={"code": code, "name": code}), 201)["id"]


def register(client: TestClient, admin: dict[str, str], region_id: str, ca: RegionCA) -> None:
    ok(client.post(f"{API}/regions/{region_id}/ca-certificates", headers=admin,
                   json={"pem": pem(ca.intermediate.certificate, ca.root.certificate)}), 201)  # any order
    for issuer in (ca.root, ca.intermediate):
        ok(client.post(f"{API}/regions/{region_id}/crls", headers=admin, json={"pem": pem(issue_crl(
            issuer, [], NOW - dt.timedelta(hours=1), NOW + dt.timedelta(days=7)))}), 201)


def test_a_registered_and_recognised_region_signs_trusted_sheets(ctx: AppContext, client: TestClient,
                                                                 admin: dict[str, str], tmp_path: Path) -> None:
    code = f"SD{NOW.microsecond}"
    sd = issue_region_ca(code, NOW - dt.timedelta(days=30))
    region_id = region(client, admin, code)
    register(client, admin, region_id, sd)
    view = ok(client.get(f"{API}/regions/{region_id}/trust", headers=admin))
    assert sorted(c["kind"] for c in view["certificates"]) == ["intermediate", "root"]
    assert len(view["crls"]) == 2 and all(c["current"] for c in view["crls"]) and view["recognised"] is False
    expert = issue_signer(sd, "张伟", "SD-E-1", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=365))
    sheet = canonical_json({"format": "evalroom-sheet-v1", "scores": {"L1/B1": {"T1": "18.00"}}})
    signature = sign_detached(sheet, software_signer(expert.certificate, expert.key, [sd.intermediate.certificate]), NOW)
    (tmp_path / "sheet.json").write_bytes(sheet)
    (tmp_path / "sheet.json.p7s").write_bytes(signature)

    def verdict() -> bool:
        bundle = tmp_path / f"bundle-{NOW.timestamp()}-{len(list(tmp_path.iterdir()))}"
        trust.export_bundle(ctx.store, bundle)
        return verify_file(tmp_path / "sheet.json", load_bundle(bundle), NOW).ok

    assert not verdict()  # registered, not yet recognised
    assert ok(client.patch(f"{API}/regions/{region_id}", headers=admin, json={"recognised": True}))["recognised"]
    assert verdict()
    with ctx.store.read() as s:
        assert trust.trust_store(s).validate(expert.certificate, NOW).trusted
    # A newer CRL of the intermediate revokes the expert: the registry uses the newest per issuer.
    ok(client.post(f"{API}/regions/{region_id}/crls", headers=admin, json={"pem": pem(issue_crl(
        sd.intermediate, [(expert.certificate, NOW - dt.timedelta(minutes=5))], NOW - dt.timedelta(minutes=1),
        NOW + dt.timedelta(days=7)))}), 201)
    with ctx.store.read() as s:
        assert trust.trust_store(s).validate(expert.certificate, NOW).revocation == "revoked"
    assert [c["current"] for c in ok(client.get(f"{API}/regions/{region_id}/trust", headers=admin))["crls"]
            if "Signing" in c["issuer"]] == [False, True]


def ca_that_may_not_sign_certificates() -> x509.Certificate:
    """A self-signed CA (basic constraints) whose key usage is digital signature only."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Odd CA")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))


def test_what_cannot_be_trusted_is_refused_and_changes_nothing(ctx: AppContext, client: TestClient,
                                                               admin: dict[str, str]) -> None:
    code = f"SN{NOW.microsecond}"
    sn, other = issue_region_ca(code, NOW - dt.timedelta(days=30)), issue_region_ca("XX", NOW - dt.timedelta(days=30))
    region_id = region(client, admin, code)
    leaf = issue_signer(sn, "赵敏", "SN-E-1", NOW, NOW + dt.timedelta(days=1)).certificate
    url = f"{API}/regions/{region_id}"
    before = snapshot(ctx)
    expired = issue_region_ca("EX", ctx.clock.now() - dt.timedelta(days=400), years=1).root.certificate
    for body, words in (({"pem": "not a certificate"}, "not PEM"),
                        ({"pem": pem(sn.root.certificate, leaf)}, "not a CA certificate"),
                        ({"pem": pem(other.intermediate.certificate)}, "not issued by a CA certificate"),
                        ({"pem": pem(expired)}, "expired on"),
                        ({"pem": pem(ca_that_may_not_sign_certificates())}, "key usage")):
        err = refused(client.post(f"{url}/ca-certificates", headers=admin, json=body), 422, "invalid_input")
        assert words in err["message"] + str(err.get("details"))
    assert snapshot(ctx) == before  # the root that came with the leaf was not registered either
    ok(client.post(f"{url}/ca-certificates", headers=admin, json={"pem": pem(sn.root.certificate)}), 201)
    before = snapshot(ctx)
    foreign = issue_crl(other.root, [], NOW - dt.timedelta(hours=1), NOW + dt.timedelta(days=1))
    refused(client.post(f"{url}/crls", headers=admin, json={"pem": pem(foreign)}), 422, "invalid_input")
    refused(client.patch(url, headers=admin, json={}), 422, "validation_failed")
    assert snapshot(ctx) == before
