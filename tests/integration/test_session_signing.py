"""Signing in a session through the API: every member signs their sheets (CAdES) and the report (PAdES) with
a certificate of their own region after a second factor that authorised exactly that document; a dissenter
signs with the dissent attached; the host seals with a time-stamp; the session can end only then. And the
ways it must fail: a byte flipped, a sheet edited after signing, a signature moved to another document, a
one-time code replayed, a WebAuthn assertion for another hash, an unrecognised region, a revoked and an
expired certificate, someone else's certificate.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from committee_world import CommitteeWorld, build, events, members
from conftest import SQLITE_ONLY, ok, refused, snapshot, test_settings
from cryptography import x509
from session_world import DISSENT, to_report_signing
from signing_world import (
    Pki,
    certificate_for,
    region_of,
    register_region,
    seat_signer,
    seat_signers,
    setup_pki,
    sign_all,
    sign_everything_and_seal,
)

from evalroom.config import Settings
from evalroom.domain.roles import Principal, Role
from evalroom.report_pdf import member_field
from evalroom.signing_client import SeatSigner, SigningRefused
from signing.canonical import canonical_json
from signing.cms import sign_detached
from signing.pades import dissent_reason, sign_pdf
from signing.trust import load_bundle
from signing.verify import verify_file

pytestmark = pytest.mark.dates


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """conftest's, with venues deemed offline only after an hour without a heartbeat: these tests move the
    coordinator's clock by minutes (CRLs, time-stamps), the world's venues have no agents that would answer, and
    a housekeeping sweep that ran just after such a move suspended the session under a test (phase_closed)."""
    return test_settings(tmp_path, db_url, site_offline_after_seconds=3600)


@pytest.fixture
def w(ctx, client) -> CommitteeWorld:  # type: ignore[no-untyped-def]
    return build(ctx, client)


def post(w: CommitteeWorld, tail: str, headers: dict[str, str], body: Any = None) -> Any:
    return w.client.post(w.url(tail), headers=headers, json=body)


def test_every_member_signs_and_the_host_seals_then_the_session_ends(w: CommitteeWorld, tmp_path: Path) -> None:
    experts, dissenter = to_report_signing(w)
    pki = setup_pki(w)
    signers = seat_signers(w, pki, experts)
    refused(post(w, "/state", w.host_op(), {"action": "end"}), 409, "invalid_transition")  # not sealed
    refused(post(w, "/report/seal", w.host_op()), 409, "signatures_missing")
    status = ok(w.client.get(w.url("/status"), headers=w.supervisor()))
    assert {m["member_id"] for m in status["signing"]["missing"]} == set(experts)

    seal = sign_everything_and_seal(w, signers, {dissenter: DISSENT})
    assert seal["document"] == "seal" and seal["revision"] == len(experts) + 1
    assert seal["verification"]["timestamp"] is not None and seal["verification"]["trusted"] is True

    records = ok(w.client.get(w.url("/signatures"), headers=w.supervisor()))
    sheets = [r for r in records if r["document"] == "sheet"]
    assert len(sheets) == 2 * len(experts)
    assert all(r["evidence"]["kind"] == "totp" and r["evidence"]["document_sha256"] == r["document_sha256"]
               for r in sheets)
    assert all(r["verification"] == {**r["verification"], "intact": True, "valid": True, "trusted": True,
                                     "revocation": "good"} for r in records)
    on_report = [r for r in records if r["document"] == "report"]
    assert [r["revision"] for r in on_report] == list(range(1, len(experts) + 1))
    assert [r["dissent_sha256"] is not None for r in on_report].count(True) == 1

    verification = ok(w.client.get(w.url("/report/verification"), headers=w.host_op()))
    assert verification["ok"] is True and len(verification["signatures"]) == len(experts) + 1
    assert all(s["intact"] and s["valid"] and s["trusted"] for s in verification["signatures"])
    assert verification["signatures"][-1]["timestamp"] is not None
    assert [s["reason"] for s in verification["signatures"]].count(dissent_reason(DISSENT)) == 1
    pdf = w.client.get(w.url("/report.pdf"), headers=w.supervisor()).content

    # Offline: the trust bundle the coordinator exports, evalroom verify's checks, and poppler's pdfsig.
    from evalroom.services.trust import export_bundle
    export_bundle(w.ctx.store, tmp_path / "trust", w.ctx.seal().anchors)
    (tmp_path / "report.pdf").write_bytes(pdf)
    bundle = load_bundle(tmp_path / "trust")
    result = verify_file(tmp_path / "report.pdf", bundle, w.ctx.clock.now(), evidence=records)
    assert result.ok, result.lines
    assert sum(line.startswith("  factor: totp") for line in result.lines) == len(experts)
    # Factor evidence that does not account for a signature, or names another document, fails the verdict.
    first_report = next(r for r in records if r["document"] == "report")
    assert not verify_file(tmp_path / "report.pdf", bundle, w.ctx.clock.now(),
                           evidence=[r for r in records if r is not first_report]).ok
    moved = {**first_report, "evidence": {**first_report["evidence"], "document_sha256": "0" * 64}}
    assert not verify_file(tmp_path / "report.pdf", bundle, w.ctx.clock.now(),
                           evidence=[moved if r is first_report else r for r in records]).ok
    pdfsig = subprocess.run(["pdfsig", str(tmp_path / "report.pdf")], capture_output=True, text=True)
    assert pdfsig.stdout.count("Signature is Valid") == len(experts) + 1, pdfsig.stdout

    # A sheet and its signature verify offline too: a member's review sheet, found among the records by its hash
    # (the records signed at one instant of the test's clock come in no particular order).
    content, digest = signers[next(iter(signers))].fetch("sheet", "review")
    record = next(r for r in sheets if r["document_sha256"] == digest)
    (tmp_path / "sheet.json").write_bytes(content)
    (tmp_path / "sheet.json.p7s").write_bytes(w.client.get(w.url(f"/signatures/{record['id']}.p7s"),
                                                           headers=w.host_op()).content)
    assert verify_file(tmp_path / "sheet.json", bundle, w.ctx.clock.now(), evidence=records).ok

    assert ok(post(w, "/state", w.host_op(), {"action": "end"}))["state"] == "ended"
    kinds = [e["kind"] for e in events(w)]
    assert kinds.count("signing.sheet_signed") == 2 * len(experts) and "report.sealed" in kinds


YEARS = dt.timedelta(days=3 * 365)


@SQLITE_ONLY
@pytest.mark.parametrize("clock", [YEARS, -YEARS], ids=["years-ahead", "years-behind"], indirect=True)
def test_signing_and_sealing_keep_to_the_coordinators_clock_not_the_machines(ctx, client) -> None:  # type: ignore[no-untyped-def]
    """Certificates, CRLs, one-time codes and tokens all issued on the coordinator's clock, years away from the
    machine's: every check (CRL freshness, validity, the time-stamp) must be made at the coordinator's time. A
    library left to ask the machine for "now" fails this (as the seal's time-stamp and signing time did)."""
    w = build(ctx, client, start=ctx.clock.now() + dt.timedelta(days=1))
    experts, dissenter = to_report_signing(w)
    seal = sign_everything_and_seal(w, seat_signers(w, setup_pki(w), experts), {dissenter: DISSENT})
    now = w.ctx.clock.now()
    assert seal["verification"]["trusted"] is True
    stamped = dt.datetime.fromisoformat(seal["verification"]["timestamp"])
    assert abs(stamped - now) < dt.timedelta(minutes=5)  # the time-stamp carries the coordinator's time
    verification = ok(w.client.get(w.url("/report/verification"), headers=w.host_op()))
    assert verification["ok"] is True and all(s["trusted"] for s in verification["signatures"])


@SQLITE_ONLY
def test_the_coordinators_own_crls_are_renewed_as_its_clock_passes_their_next_update(w: CommitteeWorld) -> None:
    first = w.ctx.seal()
    assert w.ctx.seal() is first
    w.ctx.clock.advance(dt.timedelta(days=8))
    renewed = w.ctx.seal()
    assert renewed is not first
    crls = [x509.load_der_x509_crl(der) for der in renewed.anchors.crls]
    newest = {issuer: max(c.next_update_utc for c in crls if c.issuer == issuer) for issuer in {c.issuer for c in crls}}
    assert len(newest) == 2 and min(newest.values()) > w.ctx.clock.now()  # root's and intermediate's: fresh
    assert w.ctx.seal() is renewed  # and not loaded again until they near their next update
    w.ctx.clock.advance(dt.timedelta(days=5))
    assert w.ctx.seal() is renewed


def test_a_correction_after_sealing_needs_new_signatures(w: CommitteeWorld) -> None:
    experts, dissenter = to_report_signing(w)
    signers = seat_signers(w, setup_pki(w), experts)
    sign_everything_and_seal(w, signers, {dissenter: DISSENT})
    member = sorted(experts)[1]
    ok(post(w, "/report/corrections", w.host_op(), {"member_id": member, "bid": "L1/B1", "criterion": "T1",
                                                    "value": "17", "cause": "sum_error", "reason": "汇总错误"}))
    status = ok(w.client.get(w.url("/status"), headers=w.host_op()))
    assert status["report_sealed"] is False and status["signing"]["report_version"] == 2
    missing = {m["member_id"]: m["unsigned"] for m in status["signing"]["missing"]}
    assert missing[member] == ["detailed_review sheet v2", "report v2"]
    refused(post(w, "/state", w.host_op(), {"action": "end"}), 409, "invalid_transition")
    signers[member].sign_sheet("detailed_review")
    for member_id, signer in signers.items():
        signer.sign_report(dissent=DISSENT if member_id == dissenter else None)
    ok(post(w, "/report/seal", w.host_op()), 201)
    ok(post(w, "/state", w.host_op(), {"action": "end"}))


@SQLITE_ONLY
def test_deemed_agreement_stands_in_for_a_refusal_without_dissent(w: CommitteeWorld) -> None:
    experts, dissenter = to_report_signing(w)
    signers = seat_signers(w, setup_pki(w), experts)
    refuser = next(m for m in sorted(experts) if m != dissenter)
    sign_all(signers, {dissenter: DISSENT}, refuser=refuser)
    body = {"member_id": refuser, "reason": "拒绝签字且未陈述不同意见和理由"}
    refused(post(w, "/report/deemed-agreements", experts[refuser], body), 403, "forbidden")
    refused(post(w, "/report/deemed-agreements", w.guest_op(), body), 404, "not_found")  # the guest's view is blind
    refused(post(w, "/report/deemed-agreements", w.host_op(), {**body, "member_id": dissenter}), 409, "conflict")
    ok(post(w, "/report/deemed-agreements", w.host_op(), body), 201)
    seal = ok(post(w, "/report/seal", w.host_op()), 201)
    assert seal["revision"] == len(experts)  # one member fewer signed


# --- what must fail ---------------------------------------------------------------------------------------
@pytest.fixture
def signing(w: CommitteeWorld) -> tuple[dict[str, dict[str, str]], str, Pki, dict[str, SeatSigner]]:
    experts, dissenter = to_report_signing(w)
    pki = setup_pki(w)
    return experts, dissenter, pki, seat_signers(w, pki, experts)


@SQLITE_ONLY
def test_a_one_time_code_is_accepted_once(w: CommitteeWorld, signing: Any) -> None:
    experts, _, _, signers = signing
    member = sorted(experts)[0]
    seat = signers[member]
    _, digest = seat.fetch("sheet", "review")
    code = seat.totp.code()
    body = {"document": "sheet", "phase": "review", "sha256": digest, "factor": {"kind": "totp", "code": code}}
    ok(post(w, "/signing/authorisations", experts[member], body), 201)
    _, other = seat.fetch("sheet", "detailed_review")
    err = refused(post(w, "/signing/authorisations", experts[member], {**body, "phase": "detailed_review",
                                                                      "sha256": other}), 403, "factor_refused")
    assert err["details"] == [{"reason": "replayed"}]


@SQLITE_ONLY
def test_wrong_codes_are_counted_and_lock_the_factor(w: CommitteeWorld, signing: Any) -> None:
    experts, _, _, signers = signing
    member = sorted(experts)[0]
    _, digest = signers[member].fetch("sheet", "review")
    right = signers[member].totp.code()
    wrong = "000000" if right != "000000" else "111111"
    body = {"document": "sheet", "phase": "review", "sha256": digest, "factor": {"kind": "totp", "code": wrong}}
    for _ in range(5):
        assert refused(post(w, "/signing/authorisations", experts[member], body), 403,
                       "factor_refused")["details"] == [{"reason": "wrong_code"}]
    locked = {**body, "factor": {"kind": "totp", "code": right}}
    assert refused(post(w, "/signing/authorisations", experts[member], locked), 403,
                   "factor_refused")["details"] == [{"reason": "locked"}]
    assert "signing.factor_locked" in [e["kind"] for e in events(w)]


@SQLITE_ONLY
def test_a_lost_factor_is_reset_by_an_operator_of_the_members_own_venue(w: CommitteeWorld, signing: Any) -> None:
    experts, _, _, signers = signing
    guest_member = next(m["member_id"] for m in members(w, "seated") if m["venue_id"] == w.guest_venue_id)
    url = w.url(f"/members/{guest_member}/factors")
    elsewhere = w.headers(Principal(role=Role.HALL_OPERATOR, subject="far-op", venue_id=str(uuid.uuid4())))
    before = snapshot(w.ctx)
    refused(w.client.delete(url, headers=w.host_op()), 403, "forbidden")  # the host, not the member's venue
    refused(w.client.delete(url, headers=elsewhere), 404, "not_found")  # knows nothing of the session
    assert snapshot(w.ctx) == before
    # The guest venue's operator cannot read the session, yet resets the member seated at their venue.
    assert ok(w.client.delete(url, headers=w.guest_op())) == {"member_id": guest_member, "removed": 1}
    _, digest = signers[guest_member].fetch("sheet", "review")
    body = {"document": "sheet", "phase": "review", "sha256": digest,
            "factor": {"kind": "totp", "code": signers[guest_member].totp.code()}}
    assert refused(post(w, "/signing/authorisations", experts[guest_member], body), 403,
                   "factor_refused")["details"] == [{"reason": "not_enrolled"}]
    assert "signing.factors_reset" in [e["kind"] for e in events(w)]


@SQLITE_ONLY
def test_the_authorisation_names_the_current_document_and_signs_once(w: CommitteeWorld, signing: Any) -> None:
    experts, _, _, signers = signing
    member = sorted(experts)[0]
    seat = signers[member]
    content, digest = seat.fetch("sheet", "review")
    stale = {"document": "sheet", "phase": "review", "sha256": "0" * 64,
             "factor": {"kind": "totp", "code": seat.totp.code()}}
    refused(post(w, "/signing/authorisations", experts[member], stale), 409, "document_changed")
    auth = seat.authorise("sheet", "review", digest)
    cms = base64.b64encode(sign_detached(content, seat.signer, w.ctx.clock.now())).decode()
    other = sorted(experts)[1]
    refused(post(w, "/signatures/sheets", experts[other], {"authorisation": auth["authorisation"], "cms": cms}),
            403, "authorisation_invalid")  # another member cannot use it
    ok(post(w, "/signatures/sheets", experts[member], {"authorisation": auth["authorisation"], "cms": cms}), 201)
    refused(post(w, "/signatures/sheets", experts[member], {"authorisation": auth["authorisation"], "cms": cms}),
            403, "authorisation_invalid")  # used
    with pytest.raises(SigningRefused) as twice:
        seat.sign_sheet("review")
    assert twice.value.code == "conflict"
    expiring = seat.authorise("sheet", "detailed_review", seat.fetch("sheet", "detailed_review")[1])
    w.ctx.clock.advance(dt.timedelta(minutes=6))
    refused(post(w, "/signatures/sheets", experts[member], {"authorisation": expiring["authorisation"],
                                                           "cms": cms}), 403, "authorisation_invalid")


@SQLITE_ONLY
def test_a_signature_over_other_bytes_is_refused(w: CommitteeWorld, signing: Any) -> None:
    """A sheet edited after signing, or a signature moved from another document: not over the authorised bytes."""
    experts, _, _, signers = signing
    member = sorted(experts)[0]
    seat = signers[member]
    content, digest = seat.fetch("sheet", "review")
    edited = canonical_json({**json.loads(content), "nonce": "0" * 32})
    moved = sign_detached(seat.fetch("sheet", "detailed_review")[0], seat.signer, w.ctx.clock.now())
    for cms in (sign_detached(edited, seat.signer, w.ctx.clock.now()), moved):
        auth = seat.authorise("sheet", "review", digest)
        before = snapshot(w.ctx)
        err = refused(post(w, "/signatures/sheets", experts[member], {
            "authorisation": auth["authorisation"], "cms": base64.b64encode(cms).decode()}), 422, "signature_rejected")
        assert "not over the authorised sheet" in err["message"]
        assert snapshot(w.ctx) == before


@SQLITE_ONLY
@pytest.mark.parametrize("case", ["unrecognised", "revoked", "expired", "someone_else", "other_region"])
def test_certificates_the_coordinator_does_not_accept(w: CommitteeWorld, signing: Any, case: str) -> None:
    experts, _, pki, signers = signing
    seated = {m["member_id"]: m for m in members(w, "seated")}
    member = next(m for m in sorted(experts) if region_of(w, seated[m]) == w.guest_region_id)
    name = seated[member]["name"]
    ca = pki.cas[w.guest_region_id]
    if case == "unrecognised":
        ok(w.client.patch(f"/api/v1/regions/{w.guest_region_id}", headers=w.admin(), json={"recognised": False}))
        issued = certificate_for(w, ca, name, "E-1")
    elif case == "revoked":
        issued = certificate_for(w, ca, name, "E-2")
        w.ctx.clock.advance(dt.timedelta(minutes=5))
        register_region(w, w.guest_region_id, ca, revoked=[issued])
    elif case == "expired":
        issued = certificate_for(w, ca, name, "E-3", days=-1)  # CRLs current: only the certificate is out of date
    elif case == "someone_else":
        issued = certificate_for(w, ca, "张三", "E-4")
    else:  # a certificate from the host's region for a guest-region expert
        issued = certificate_for(w, pki.cas[w.host_region_id], name, "E-5")
    seat = seat_signer(w, member, experts[member], issued, pki.cas[w.host_region_id if case == "other_region"
                                                                  else w.guest_region_id],
                       device=signers[member].totp)
    with pytest.raises(SigningRefused) as refusal:
        seat.sign_sheet("review")
    assert refusal.value.code == "signature_rejected", refusal.value
    problems = " ".join(d["problem"] for d in refusal.value.details)
    expected = {"unrecognised": "recognition list", "revoked": "revoked", "expired": "expired",
                "someone_else": "not " + name, "other_region": "member's region"}[case]
    assert expected in problems, problems


@SQLITE_ONLY
def test_a_webauthn_assertion_authorises_only_its_documents_hash(w: CommitteeWorld, signing: Any) -> None:
    from webauthn_soft import SoftAuthenticator

    experts, _, _, signers = signing
    member = sorted(experts)[0]
    origin = w.ctx.settings.effective_public_url
    device = SoftAuthenticator(rp_id="127.0.0.1" if "127.0.0.1" in origin else "localhost", origin=origin)
    options = json.loads(w.client.post(w.url("/factors/webauthn/options"), headers=experts[member]).content)
    nonce = bytes(base64.urlsafe_b64decode(options["challenge"] + "==")).hex()
    ok(post(w, "/factors/webauthn", experts[member], {"nonce": nonce, "credential": device.register(options)}), 201)

    seat = signers[member]
    _, review = seat.fetch("sheet", "review")
    _, detailed = seat.fetch("sheet", "detailed_review")
    challenge = ok(post(w, "/signing/challenges", experts[member], {"document": "sheet", "phase": "review",
                                                                    "sha256": review}), 201)
    assertion = device.assert_(json.loads(challenge["options"]))
    wrong = {"document": "sheet", "phase": "detailed_review", "sha256": detailed,
             "factor": {"kind": "webauthn", "nonce": challenge["nonce"], "assertion": assertion}}
    assert refused(post(w, "/signing/authorisations", experts[member], wrong), 403,
                   "factor_refused")["details"] == [{"reason": "wrong_document"}]
    right = {**wrong, "phase": "review", "sha256": review}
    auth = ok(post(w, "/signing/authorisations", experts[member], right), 201)
    assert auth["evidence"]["kind"] == "webauthn" and auth["evidence"]["user_verified"] is True
    assert refused(post(w, "/signing/authorisations", experts[member], right), 403,
                   "factor_refused")["details"] == [{"reason": "unknown_challenge"}]  # the nonce is single-use


@SQLITE_ONLY
def test_a_report_signature_must_add_exactly_one_valid_signature(w: CommitteeWorld, signing: Any) -> None:
    experts, dissenter, _, signers = signing
    member = next(m for m in sorted(experts) if m != dissenter)
    seat = signers[member]
    pdf, digest = seat.fetch("report")

    def hand_in(body: bytes, auth: dict[str, Any]) -> Any:
        return w.client.post(w.url("/signatures/report"), headers={**experts[member], "Content-Type": "application/pdf"},
                             params={"authorisation": auth["authorisation"]}, content=body)

    signed = sign_pdf(pdf, seat.signer, member_field(member), name="x", reason="同意", location="seat",
                      at=w.ctx.clock.now())
    # Valid, but in another member's box: the printed page would show it under their name.
    elsewhere = sign_pdf(pdf, seat.signer, member_field(dissenter), name="x", reason="同意", location="seat",
                         at=w.ctx.clock.now())
    flipped = bytearray(signed)
    flipped[len(pdf) + (len(signed) - len(pdf)) // 2] ^= 0x01  # a byte inside the new revision
    for body, problem in ((bytes(flipped), ""), (pdf, "incremental update"), (elsewhere, "own box")):
        auth = seat.authorise("report", None, digest)
        before = snapshot(w.ctx)
        assert problem in str(refused(hand_in(body, auth), 422, "signature_rejected")["details"])
        assert snapshot(w.ctx) == before
    # The dissenter must attach the dissent.
    with pytest.raises(SigningRefused) as bare:
        signers[dissenter].sign_report()
    assert "dissent" in str(bare.value)
    ok(hand_in(signed, seat.authorise("report", None, digest)), 201)
    assert seat.fetch("report")[1] != digest  # the report's current revision now carries the signature
