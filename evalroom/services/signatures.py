"""Signing in a session: second factors, per-document authorisations, the members' signatures on their
sheets and on the report, deemed agreement, and the coordinator's seal (docs/signing.md, "In a session").

The private keys never reach the coordinator: a member's key stays on their token (or software key store) at
their seat, and the coordinator only sees what it must check. Signing one document takes three steps:

1. **Fetch** the document: the member's own sheet version as canonical JSON bytes, or the report's current
   revision (the PDF with every signature so far). The member's device shows it and computes its SHA-256.
2. **Authorise** with the second factor (:func:`authorise`): a one-time code, or a WebAuthn assertion over a
   challenge derived from that hash (:func:`signing_challenge` issues the single-use nonce). The coordinator
   checks that the hash is the current document's, and answers an authorisation for that one document,
   usable once within ``signing_authorisation_minutes``. This is the SCAL2 pattern: the factor authorises
   exactly one document hash, never a login session.
3. **Sign** locally behind the PIN and upload (:func:`sign_sheet`: a detached CAdES signature;
   :func:`sign_report`: the PDF with one more PAdES signature as an incremental update). The coordinator
   accepts only a signature that is over the authorised bytes, intact, valid, trusted now (a recognised
   region, not revoked, not expired), by the member's own certificate, and, for a member who recorded
   dissent, with the dissent attached. The record keeps the factor evidence and these results.

The report is sealed (:func:`seal_report`) by the host's operators once every seated member has signed their
newest sheets and either signed the newest report version or been recorded as deemed to agree (a refusal
without a written dissent, 条例 Art. 53): the coordinator adds its seal with an RFC 3161 time-stamp from its
own time-stamping unit. Leaving the report-signing phase (ending the session) needs the seal.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pyotp
from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_registration_response,
)
from webauthn.helpers.exceptions import InvalidCBORData, InvalidJSONStructure, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    UserVerificationRequirement,
)

from evalroom.auth.sealing import Sealer
from evalroom.clock import format_time
from evalroom.config import Settings
from evalroom.domain.roles import Principal, Role
from evalroom.domain.session_states import Phase, State
from evalroom.errors import ApiError, ErrorCode, ForbiddenError, NotFoundError
from evalroom.report_pdf import SEAL_FIELD, default_font_path, member_field
from evalroom.services.access import check_can_read_session
from evalroom.services.evaluation import check_mover, evaluators, seated_member
from evalroom.services.seal import CoordinatorSeal
from evalroom.services.sheets import current_sheets
from evalroom.services.trust import trust_store
from evalroom.storage.models import (
    CommitteeMember,
    DeemedAgreement,
    Dissent,
    EvalSession,
    Expert,
    Region,
    Report,
    ScoreSheet,
    SecondFactor,
    SignatureRecord,
    SigningAuthorisation,
    SigningChallenge,
    Venue,
)
from evalroom.storage.store import Store, Tx
from signing.canonical import canonical_json, sha256_hex
from signing.cms import verify_detached
from signing.factors import (
    FactorEvidence,
    FactorRefused,
    WebAuthnCredential,
    challenge_for,
    verify_totp,
    verify_webauthn,
)
from signing.pades import DISSENT_PREFIX, PdfSignatureCheck, dissent_reason, sign_pdf, verify_pdf

__all__ = [
    "FACTOR_MAX_FAILURES",
    "Document",
    "authorise",
    "current_document",
    "current_report",
    "deem_agreed",
    "enrol_totp",
    "list_signatures",
    "register_webauthn",
    "report_pdf",
    "report_sealed",
    "report_verification",
    "signature_view",
    "reset_factors",
    "seal_report",
    "sealed_report",
    "sign_report",
    "sign_sheet",
    "signing_challenge",
    "sheet_signature",
    "signing_status",
    "webauthn_registration_options",
]

FACTOR_MAX_FAILURES = 5
"""Wrong one-time codes in a row before the factor is locked for :data:`FACTOR_LOCK_MINUTES`: six digits
must not be guessable by trying."""
FACTOR_LOCK_MINUTES = 15
CHALLENGE_MINUTES = 5
_TOTP_CONTEXT = "second_factor.totp"
SHEET_PHASES = (Phase.REVIEW.value, Phase.DETAILED_REVIEW.value)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _relying_party(settings: Settings) -> tuple[str, str]:
    """WebAuthn's relying party: the coordinator's public URL (origin) and its host name (RP id)."""
    url = urlsplit(settings.effective_public_url)
    return url.hostname or "localhost", f"{url.scheme}://{url.netloc}"


# --- second factors ---------------------------------------------------------------------------------------------
def _factors(s: Session, member: CommitteeMember, kind: str) -> list[SecondFactor]:
    return list(s.scalars(select(SecondFactor).where(SecondFactor.person_hash == member.id_number_hash,
                                                     SecondFactor.kind == kind).order_by(SecondFactor.created_at)))


def enrol_totp(tx: Tx, sealer: Sealer, settings: Settings, principal: Principal, session_id: str) -> dict[str, Any]:
    """Register a one-time-code authenticator for the seated member (the person: it serves their later
    sessions too). The secret is shown this once; a person has at most one, and only their venue's operator,
    who checked their identity, resets it (:func:`reset_factors`)."""
    member, session = seated_member(tx.session, principal, session_id)
    if _factors(tx.session, member, "totp"):
        raise ApiError(ErrorCode.CONFLICT, "a one-time-code authenticator is registered already; the venue's "
                                           "operator resets it after checking your identity")
    secret = pyotp.random_base32()
    tx.session.add(SecondFactor(id=str(uuid.uuid4()), person_hash=member.id_number_hash, kind="totp",
                                secret_sealed=sealer.seal(secret.encode(), _TOTP_CONTEXT), sign_count=0, failures=0,
                                created_at=tx.now()))
    tx.record(actor=principal.actor, kind="signing.factor_registered", session_id=session.id,
              payload={"member_id": member.id, "kind": "totp"})
    return {"kind": "totp", "secret": secret, "digits": 6, "period": 30, "algorithm": "SHA1",
            "uri": pyotp.TOTP(secret).provisioning_uri(name=member.name, issuer_name=settings.issuer)}


def _new_challenge(tx: Tx, member: CommitteeMember, purpose: str, document_sha256: str | None) -> bytes:
    nonce = secrets.token_bytes(16)
    tx.session.add(SigningChallenge(nonce=nonce.hex(), member_id=member.id, purpose=purpose,
                                    document_sha256=document_sha256,
                                    expires_at=tx.now() + timedelta(minutes=CHALLENGE_MINUTES)))
    return nonce


def _take_challenge(tx: Tx, member: CommitteeMember, nonce_hex: str, purpose: str) -> SigningChallenge:
    """The member's unused, unexpired challenge, marked used."""
    row = tx.session.get(SigningChallenge, nonce_hex.lower(), with_for_update=True)
    if row is None or row.member_id != member.id or row.purpose != purpose or row.used_at is not None \
            or row.expires_at <= tx.now():
        raise ApiError(ErrorCode.FACTOR_REFUSED, "no such challenge for you, or it was used or has expired",
                       [{"reason": "unknown_challenge"}])
    row.used_at = tx.now()
    return row


def webauthn_registration_options(tx: Tx, settings: Settings, principal: Principal, session_id: str) -> str:
    """``PublicKeyCredentialCreationOptions`` (JSON) for registering an authenticator with user verification."""
    member, _ = seated_member(tx.session, principal, session_id)
    rp_id, _ = _relying_party(settings)
    nonce = _new_challenge(tx, member, "register", None)
    return options_to_json(generate_registration_options(
        rp_id=rp_id, rp_name=settings.issuer, user_id=bytes.fromhex(member.id_number_hash)[:32],
        user_name=member.name, challenge=nonce,
        authenticator_selection=AuthenticatorSelectionCriteria(user_verification=UserVerificationRequirement.REQUIRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64.urlsafe_b64decode(f.credential_id + "=="))
                             for f in _factors(tx.session, member, "webauthn") if f.credential_id]))


def register_webauthn(tx: Tx, settings: Settings, principal: Principal, session_id: str, nonce: str,
                      credential: dict[str, Any]) -> dict[str, Any]:
    member, session = seated_member(tx.session, principal, session_id)
    challenge = _take_challenge(tx, member, nonce, "register")
    rp_id, origin = _relying_party(settings)
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=bytes.fromhex(challenge.nonce), expected_rp_id=rp_id,
            expected_origin=origin, require_user_verification=True)
    except (InvalidRegistrationResponse, InvalidJSONStructure, InvalidCBORData, ValueError, KeyError) as exc:
        raise ApiError(ErrorCode.FACTOR_REFUSED, f"the authenticator's registration does not verify: {exc}",
                       [{"reason": "not_verified"}]) from None
    credential_id = _b64url(verified.credential_id)
    if tx.session.scalar(select(SecondFactor.id).where(SecondFactor.credential_id == credential_id)) is not None:
        raise ApiError(ErrorCode.CONFLICT, "this authenticator is registered already")
    tx.session.add(SecondFactor(id=str(uuid.uuid4()), person_hash=member.id_number_hash, kind="webauthn",
                                credential_id=credential_id, public_key=verified.credential_public_key,
                                sign_count=verified.sign_count, failures=0, created_at=tx.now()))
    tx.record(actor=principal.actor, kind="signing.factor_registered", session_id=session.id,
              payload={"member_id": member.id, "kind": "webauthn", "credential_id": credential_id})
    return {"kind": "webauthn", "credential_id": credential_id}


def reset_factors(tx: Tx, principal: Principal, session_id: str, member_id: str) -> dict[str, Any]:
    """Remove a member's second factors (a lost phone, a broken authenticator): by an operator of the member's
    own venue, who checks the person's identity as at check-in. A guest venue's operator cannot read the
    session (the host's scope), but resets the members seated at their own venue all the same."""
    session = tx.session.get(EvalSession, session_id, with_for_update=True)
    member = tx.session.get(CommitteeMember, member_id)
    at_own_venue = (session is not None and member is not None and member.session_id == session.id
                    and principal.role is Role.HALL_OPERATOR and principal.venue_id == member.venue_id)
    if not at_own_venue:
        session = check_can_read_session(principal, session, session_id)
        if member is None or member.session_id != session.id:
            raise NotFoundError("member", member_id)
        raise ForbiddenError("only an operator of the member's venue resets their second factors")
    removed = 0
    for kind in ("totp", "webauthn"):
        for row in _factors(tx.session, member, kind):
            tx.session.delete(row)
            removed += 1
    tx.record(actor=principal.actor, kind="signing.factors_reset", session_id=session.id,
              payload={"member_id": member.id, "removed": removed})
    return {"member_id": member.id, "removed": removed}


# --- documents --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Document:
    kind: str
    """``sheet`` or ``report``."""
    ref: str
    """The sheet version's or the report version's id."""
    content: bytes
    media_type: str
    label: str

    @property
    def sha256(self) -> str:
        return sha256_hex(self.content)


def _report_revisions(s: Session, report_id: str) -> list[SignatureRecord]:
    return list(s.scalars(select(SignatureRecord).where(SignatureRecord.document_ref == report_id)
                          .order_by(SignatureRecord.revision)))


def report_pdf(s: Session, report: Report) -> bytes:
    """The report version's current revision: the PDF with every signature added so far."""
    last = s.scalars(select(SignatureRecord).where(SignatureRecord.document_ref == report.id)
                     .order_by(SignatureRecord.revision.desc()).limit(1)).first()
    return last.content if last is not None else report.pdf_bytes


def _newest_report(s: Session, session_id: str) -> Report | None:
    return s.scalars(select(Report).where(Report.session_id == session_id)
                     .order_by(Report.version.desc()).limit(1)).first()


def _sealed(s: Session, report: Report) -> bool:
    return s.scalar(select(SignatureRecord.id).where(SignatureRecord.document_ref == report.id,
                                                     SignatureRecord.document_kind == "seal")) is not None


def _sheet_document(row: ScoreSheet) -> Document:
    return Document("sheet", row.id, canonical_json(row.content), "application/json",
                    f"{row.phase} sheet v{row.version}")


def current_document(s: Session, session: EvalSession, member: CommitteeMember, kind: str,
                     phase: str | None) -> Document:
    """What ``member`` signs now: the newest version of their own sheet for ``phase``, or the report's
    current revision."""
    if kind == "sheet":
        if phase not in SHEET_PHASES:
            raise ApiError(ErrorCode.INVALID_INPUT, f"a sheet's phase is one of {', '.join(SHEET_PHASES)}")
        row = current_sheets(s, session.id, phase).get(member.id)
        if row is None:
            raise NotFoundError("sheet of member", f"{member.id}/{phase}")
        return _sheet_document(row)
    report = _newest_report(s, session.id)
    if report is None:
        raise NotFoundError("report of session", session.id)
    return Document("report", report.id, report_pdf(s, report), "application/pdf", f"report v{report.version}")


def _may_sign(session: EvalSession, kind: str, s: Session) -> None:
    if session.state != State.EVALUATING:
        raise ApiError(ErrorCode.PHASE_CLOSED, "signing happens while the session is evaluating")
    if kind == "report":
        if session.phase != Phase.REPORT_SIGNING:
            raise ApiError(ErrorCode.PHASE_CLOSED, "the report is signed in the report-signing phase")
        report = _newest_report(s, session.id)
        if report is not None and _sealed(s, report):
            raise ApiError(ErrorCode.PHASE_CLOSED, "this report version is sealed already")


# --- authorisation ----------------------------------------------------------------------------------------------
def signing_challenge(tx: Tx, settings: Settings, principal: Principal, session_id: str, kind: str,
                      phase: str | None, document_sha256: str) -> dict[str, Any]:
    """A single-use WebAuthn challenge for one document: ``SHA-256("evalroom-sign-v1" ‖ hash ‖ nonce)``, with
    the ``PublicKeyCredentialRequestOptions`` a browser passes to ``navigator.credentials.get``."""
    member, session = seated_member(tx.session, principal, session_id)
    document = current_document(tx.session, session, member, kind, phase)
    _check_current(document, document_sha256)
    credentials = _factors(tx.session, member, "webauthn")
    if not credentials:
        raise ApiError(ErrorCode.FACTOR_REFUSED, "no authenticator is registered", [{"reason": "not_enrolled"}])
    nonce = _new_challenge(tx, member, "sign", document.sha256)
    rp_id, _ = _relying_party(settings)
    options = options_to_json(generate_authentication_options(
        rp_id=rp_id, challenge=challenge_for(document.sha256, nonce),
        allow_credentials=[PublicKeyCredentialDescriptor(id=base64.urlsafe_b64decode(f.credential_id + "=="))
                           for f in credentials if f.credential_id],
        user_verification=UserVerificationRequirement.REQUIRED))
    return {"nonce": nonce.hex(), "document_sha256": document.sha256, "options": options}


def _check_current(document: Document, claimed: str) -> None:
    if claimed.lower() != document.sha256:
        raise ApiError(ErrorCode.DOCUMENT_CHANGED, f"the current {document.label} has SHA-256 {document.sha256}, "
                                                   "not the one named: fetch it again and check it")


def _not_signed_yet(s: Session, member: CommitteeMember, document: Document) -> None:
    if s.scalar(select(SignatureRecord.id).where(SignatureRecord.document_ref == document.ref,
                                                 SignatureRecord.member_id == member.id)) is not None:
        raise ApiError(ErrorCode.CONFLICT, f"you have signed this {document.label} already")


def _refused(reason: str, message: str) -> ApiError:
    return ApiError(ErrorCode.FACTOR_REFUSED, message, [{"reason": reason}])


def authorise(store: Store, sealer: Sealer, settings: Settings, principal: Principal, session_id: str, kind: str,
              phase: str | None, document_sha256: str, factor: dict[str, Any]) -> dict[str, Any]:
    """Check the second factor for the current document and issue an authorisation to sign it once.

    A wrong code is counted in its own committed transaction before the refusal is raised (the refusal itself
    changes nothing else); after :data:`FACTOR_MAX_FAILURES` in a row the factor is locked for a while."""
    refusal: ApiError | None = None
    with store.write() as tx:
        member, session = seated_member(tx.session, principal, session_id)
        _may_sign(session, kind, tx.session)
        document = current_document(tx.session, session, member, kind, phase)
        _check_current(document, document_sha256)
        _not_signed_yet(tx.session, member, document)
        now = tx.now()
        try:
            evidence = _verify_factor(tx, settings, sealer, member, document, factor, now)
        except _CountedRefusal as counted:
            refusal = counted.error
        else:
            row = SigningAuthorisation(id=str(uuid.uuid4()), session_id=session.id, member_id=member.id,
                                       document_kind=document.kind, document_ref=document.ref,
                                       document_sha256=document.sha256, evidence=evidence.as_dict(),
                                       expires_at=now + timedelta(minutes=settings.signing_authorisation_minutes))
            tx.session.add(row)
            tx.record(actor=principal.actor, kind="signing.authorised", session_id=session.id,
                      payload={"member_id": member.id, "document": document.kind, "sha256": document.sha256,
                               "factor": evidence.kind})
            return {"authorisation": row.id, "document": document.kind, "document_sha256": document.sha256,
                    "expires_at": format_time(row.expires_at), "evidence": row.evidence}
    raise refusal


class _CountedRefusal(Exception):
    """A refusal whose failure count must be committed before it is raised."""

    def __init__(self, error: ApiError) -> None:
        self.error = error


def _verify_factor(tx: Tx, settings: Settings, sealer: Sealer, member: CommitteeMember, document: Document,
                   factor: dict[str, Any], now: datetime) -> FactorEvidence:
    kind = factor.get("kind")
    if kind == "totp":
        rows = _factors(tx.session, member, "totp")
        if not rows:
            raise _refused("not_enrolled", "no one-time-code authenticator is registered")
        row = tx.session.get(SecondFactor, rows[0].id, with_for_update=True)
        assert row is not None and row.secret_sealed is not None
        if row.locked_until is not None and row.locked_until > now:
            raise _refused("locked", f"too many wrong codes; try again after {format_time(row.locked_until)}")
        secret = sealer.open(row.secret_sealed, _TOTP_CONTEXT).decode()
        try:
            evidence, step = verify_totp(secret, str(factor.get("code", "")), document.sha256, now, row.last_step)
        except FactorRefused as exc:
            if exc.reason == "wrong_code":
                row.failures += 1
                if row.failures >= FACTOR_MAX_FAILURES:
                    row.failures, row.locked_until = 0, now + timedelta(minutes=FACTOR_LOCK_MINUTES)
                    tx.record(actor="system", kind="signing.factor_locked", session_id=member.session_id,
                              payload={"member_id": member.id, "until": format_time(row.locked_until)})
                raise _CountedRefusal(_refused(exc.reason, str(exc))) from None
            raise _refused(exc.reason, str(exc)) from None
        row.last_step, row.failures, row.locked_until = step, 0, None
        return evidence
    if kind == "webauthn":
        challenge = _take_challenge(tx, member, str(factor.get("nonce", "")), "sign")
        if challenge.document_sha256 != document.sha256:
            raise _refused("wrong_document", "the challenge was issued for another document")
        assertion = factor.get("assertion")
        raw_id = assertion.get("rawId") or assertion.get("id") if isinstance(assertion, dict) else None
        row = next((f for f in _factors(tx.session, member, "webauthn") if f.credential_id == raw_id), None)
        if row is None or row.public_key is None:
            raise _refused("not_verified", "the assertion is not from one of your registered authenticators")
        rp_id, origin = _relying_party(settings)
        try:
            evidence = verify_webauthn(WebAuthnCredential(base64.urlsafe_b64decode(raw_id + "=="), row.public_key,
                                                          row.sign_count),
                                       assertion, document.sha256, bytes.fromhex(challenge.nonce), rp_id=rp_id,
                                       origin=origin, now=now)
        except FactorRefused as exc:
            raise _refused(exc.reason, str(exc)) from None
        row.sign_count = int(evidence.detail["sign_count"])
        return evidence
    raise ApiError(ErrorCode.INVALID_INPUT, "the factor's kind is totp or webauthn")


def _take_authorisation(tx: Tx, principal: Principal, session_id: str, authorisation_id: str, kind: str
                        ) -> tuple[CommitteeMember, EvalSession, SigningAuthorisation]:
    """The caller as a seated member who may sign ``kind`` now, and their authorisation, marked used."""
    member, session = seated_member(tx.session, principal, session_id)
    _may_sign(session, kind, tx.session)
    row = tx.session.get(SigningAuthorisation, authorisation_id, with_for_update=True)
    if row is None or row.member_id != member.id or row.document_kind != kind:
        raise ApiError(ErrorCode.AUTHORISATION_INVALID, f"no such {kind} signing authorisation of yours")
    if row.used_at is not None:
        raise ApiError(ErrorCode.AUTHORISATION_INVALID, "this authorisation was used already; each signs once")
    if row.expires_at <= tx.now():
        raise ApiError(ErrorCode.AUTHORISATION_INVALID, "this authorisation has expired; authorise again")
    row.used_at = tx.now()
    return member, session, row


# --- accepting signatures ---------------------------------------------------------------------------------------
def _signer_problems(s: Session, session: EvalSession, member: CommitteeMember, certificate: bytes,
                     region: str | None) -> list[str]:
    """Whether the certificate is the member's own: their name, issued in their own region (an expert's pool
    region; a tenderer's representative's, the host's), and the one the pool names if it names one."""
    cert = x509.load_der_x509_certificate(certificate)
    names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    serials = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)]
    problems = []
    if member.name not in names:
        problems.append(f"the certificate is {', '.join(map(str, names)) or 'nobody'}'s, not {member.name}'s")
    if member.expert_id is not None:
        expert = s.get(Expert, member.expert_id)
        assert expert is not None
        home = s.get(Region, expert.region_id)
        reference = (expert.certificate or "").upper()
        if reference and not any(x.upper() in reference for x in [*serials, format(cert.serial_number, "X")]):
            problems.append(f"the pool names the expert's certificate as {expert.certificate!r}; this is another")
    else:
        venue = s.get(Venue, session.host_venue_id)
        home = s.get(Region, venue.region_id) if venue is not None else None
    if home is not None and region is not None and region != home.code:
        problems.append(f"the certificate was issued in region {region}; the member's region is {home.code}")
    return problems


def _reject(problems: list[str] | tuple[str, ...]) -> ApiError:
    return ApiError(ErrorCode.SIGNATURE_REJECTED, "the signature is not accepted: " + "; ".join(problems),
                    [{"problem": p} for p in problems])


def signature_view(row: SignatureRecord) -> dict[str, Any]:
    return {"id": row.id, "member_id": row.member_id, "document": row.document_kind,
            "document_ref": row.document_ref, "document_sha256": row.document_sha256, "revision": row.revision,
            "content_sha256": row.content_sha256, "signer": row.signer, "region": row.region,
            "certificate_sha256": row.certificate_sha256, "evidence": row.evidence,
            "verification": row.verification, "dissent_sha256": row.dissent_sha256,
            "created_at": format_time(row.created_at)}


def sign_sheet(tx: Tx, seal: CoordinatorSeal, principal: Principal, session_id: str, authorisation_id: str,
               cms_der: bytes) -> dict[str, Any]:
    """Accept the member's detached CAdES signature over the sheet version the authorisation names."""
    member, session, auth = _take_authorisation(tx, principal, session_id, authorisation_id, "sheet")
    row = tx.session.get(ScoreSheet, auth.document_ref)
    assert row is not None
    document = _sheet_document(row)
    current = current_sheets(tx.session, session.id, row.phase).get(member.id)
    if current is None or current.id != row.id:
        raise ApiError(ErrorCode.DOCUMENT_CHANGED, "a newer version of this sheet exists; sign that one")
    _not_signed_yet(tx.session, member, document)
    now = tx.now()
    check = verify_detached(document.content, cms_der, trust_store(tx.session, seal.anchors), now)
    if not check.intact and check.certificate is not None:
        raise _reject(["the signature is not over the authorised sheet (another document, or changed)"])
    if not check.ok or check.certificate is None:
        raise _reject(check.problems or ("the signature does not verify",))
    problems = _signer_problems(tx.session, session, member, check.certificate, check.region)
    if problems:
        raise _reject(problems)
    record = SignatureRecord(
        id=str(uuid.uuid4()), session_id=session.id, member_id=member.id, document_kind="sheet",
        document_ref=row.id, document_sha256=document.sha256, content=cms_der, content_sha256=sha256_hex(cms_der),
        signer=check.signer, region=check.region, certificate_sha256=sha256_hex(check.certificate),
        evidence=auth.evidence, verification={"intact": check.intact, "valid": check.valid,
                                              "trusted": check.trusted, "revocation": check.revocation,
                                              "at": format_time(now)},
        created_at=now)
    tx.session.add(record)
    tx.record(actor=principal.actor, kind="signing.sheet_signed", session_id=session.id,
              payload={"member_id": member.id, "phase": row.phase, "version": row.version,
                       "sheet_sha256": document.sha256, "signature_sha256": record.content_sha256})
    return signature_view(record)


def _pdf_verification(check: PdfSignatureCheck, now: datetime) -> dict[str, Any]:
    """The checks at acceptance, and what the signature's box shows of its certificate (the report preview
    shows the signature page from these, without verifying the file again)."""
    certificate = x509.load_der_x509_certificate(check.certificate)
    issuer = certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return {"intact": check.intact, "valid": check.valid, "trusted": check.trusted,
            "revocation": check.revocation, "coverage": check.coverage, "at": format_time(now),
            "timestamp": format_time(check.timestamp) if check.timestamp else None, "field": check.field,
            "signed_at": format_time(check.signing_time) if check.signing_time else None,
            "issuer": str(issuer[0].value) if issuer else certificate.issuer.rfc4514_string(),
            "serial": f"{certificate.serial_number:X}"}


def _accept_revision(tx: Tx, seal: CoordinatorSeal, report: Report, before: bytes, after: bytes
                     ) -> tuple[PdfSignatureCheck, int]:
    """Check ``after`` is ``before`` with exactly one more signature, valid and covering the whole file, and
    every earlier signature still intact; returns the new signature's check and its revision number."""
    if not after.startswith(before) or len(after) == len(before):
        raise _reject(["the PDF is not an incremental update of the authorised revision"])
    earlier = len(_report_revisions(tx.session, report.id))
    trust = trust_store(tx.session, seal.anchors)
    try:
        checks = verify_pdf(after, trust, trust.recognised_roots(), tx.now())
    except Exception as exc:  # pyHanko raises a variety of errors on malformed PDFs
        raise _reject([f"the PDF cannot be read: {exc}"]) from None
    if len(checks) != earlier + 1:
        raise _reject([f"the update must add exactly one signature (the PDF has {len(checks)}, "
                       f"{earlier} before)"])
    broken = [c.field for c in checks[:-1] if not (c.intact and c.valid)]
    if broken:
        raise _reject([f"earlier signatures no longer verify: {', '.join(broken)}"])
    new = checks[-1]
    if not new.ok or new.coverage != "entire_file":
        raise _reject([*new.problems, *(() if new.coverage == "entire_file" else
                                        (f"the signature covers {new.coverage}, not the whole file",))]
                      or ["the signature does not verify"])
    return new, earlier + 1


def sign_report(tx: Tx, seal: CoordinatorSeal, principal: Principal, session_id: str, authorisation_id: str,
                pdf: bytes) -> dict[str, Any]:
    """Accept the member's PAdES signature: the authorised report revision plus one incremental update."""
    member, session, auth = _take_authorisation(tx, principal, session_id, authorisation_id, "report")
    report = tx.session.get(Report, auth.document_ref)
    assert report is not None
    newest = _newest_report(tx.session, session.id)
    before = report_pdf(tx.session, report)
    if newest is None or newest.id != report.id or sha256_hex(before) != auth.document_sha256:
        raise ApiError(ErrorCode.DOCUMENT_CHANGED, "the report changed since the authorisation (a new version, "
                                                   "or another signature added first): fetch it and authorise again")
    check, revision = _accept_revision(tx, seal, report, before, pdf)
    problems = _signer_problems(tx.session, session, member, check.certificate, check.region)
    if check.field != member_field(member.id):
        # The report has a box per member: a signature in another's box would print under their name.
        problems.append(f"a member signs in their own box, the field {member_field(member.id)!r}, "
                        f"not {check.field!r}")
    dissent = tx.session.get(Dissent, (session.id, member.id))
    dissent_sha = None
    if dissent is not None:
        dissent_sha = sha256_hex(dissent.text.encode())
        if check.reason != dissent_reason(dissent.text):
            problems.append("a member who recorded dissent signs with it attached: the signature's reason is "
                            f"{DISSENT_PREFIX!r} followed by the recorded text")
    if problems:
        raise _reject(problems)
    now = tx.now()
    record = SignatureRecord(
        id=str(uuid.uuid4()), session_id=session.id, member_id=member.id, document_kind="report",
        document_ref=report.id, document_sha256=auth.document_sha256, revision=revision, content=pdf,
        content_sha256=sha256_hex(pdf), signer=check.signer, region=check.region,
        certificate_sha256=sha256_hex(check.certificate), evidence=auth.evidence,
        verification=_pdf_verification(check, now), dissent_sha256=dissent_sha, created_at=now)
    tx.session.add(record)
    tx.record(actor=principal.actor, kind="signing.report_signed", session_id=session.id,
              payload={"member_id": member.id, "version": report.version, "revision": revision,
                       "pdf_sha256": record.content_sha256, "dissent": dissent is not None})
    return signature_view(record)


# --- deemed agreement, the seal, status -------------------------------------------------------------------------
def deem_agreed(tx: Tx, principal: Principal, session_id: str, member_id: str, reason: str) -> dict[str, Any]:
    """Record that a member refused to sign the newest report version without a written dissent: deemed to
    agree (条例 Art. 53). The host's operators record it, in the report-signing phase."""
    session = check_can_read_session(principal, tx.session.get(EvalSession, session_id, with_for_update=True),
                                     session_id)
    check_mover(tx.session, principal, session, host_only=True)
    _may_sign(session, "report", tx.session)
    member = tx.session.get(CommitteeMember, member_id)
    if member is None or member.session_id != session.id or member.state != "seated":
        raise NotFoundError("seated member", member_id)
    report = _newest_report(tx.session, session.id)
    if report is None:
        raise NotFoundError("report of session", session.id)
    if tx.session.get(Dissent, (session.id, member.id)) is not None:
        raise ApiError(ErrorCode.CONFLICT, "the member recorded a dissent: they sign with it attached, and are not "
                                           "deemed to agree")
    if tx.session.scalar(select(SignatureRecord.id).where(SignatureRecord.document_ref == report.id,
                                                          SignatureRecord.member_id == member.id)) is not None:
        raise ApiError(ErrorCode.CONFLICT, "the member has signed this report version")
    if tx.session.get(DeemedAgreement, (report.id, member.id)) is None:
        tx.session.add(DeemedAgreement(report_id=report.id, member_id=member.id, reason=reason,
                                       recorded_by=principal.actor, recorded_at=tx.now()))
        tx.record(actor=principal.actor, kind="signing.deemed_agreed", session_id=session.id,
                  payload={"member_id": member.id, "version": report.version})
    return {"member_id": member.id, "version": report.version, "deemed_agreed": True}


def _missing(s: Session, session: EvalSession, report: Report | None) -> list[dict[str, Any]]:
    """Per seated member, what they have not signed: newest sheets, and the newest report version (unless
    deemed to agree)."""
    signed = set(s.scalars(select(SignatureRecord.document_ref).where(SignatureRecord.session_id == session.id,
                                                                      SignatureRecord.document_kind == "sheet")))
    sheets = {phase: current_sheets(s, session.id, phase) for phase in SHEET_PHASES}
    on_report: set[str | None] = set()
    if report is not None:
        on_report = set(s.scalars(select(SignatureRecord.member_id).where(SignatureRecord.document_ref == report.id)))
        on_report |= set(s.scalars(select(DeemedAgreement.member_id).where(DeemedAgreement.report_id == report.id)))
    missing = []
    for member in evaluators(s, session.id):
        needs = [f"{phase} sheet v{rows[member.id].version}" for phase, rows in sheets.items()
                 if member.id in rows and rows[member.id].id not in signed]
        if report is None or member.id not in on_report:
            needs.append(f"report v{report.version}" if report else "report")
        if needs:
            missing.append({"member_id": member.id, "name": member.name, "unsigned": needs})
    return missing


def signing_status(s: Session, session: EvalSession) -> dict[str, Any]:
    report = _newest_report(s, session.id)
    return {"report_version": report.version if report else None,
            "sealed": bool(report and _sealed(s, report)), "missing": _missing(s, session, report)}


def report_sealed(s: Session, session_id: str) -> bool:
    return sealed_report(s, session_id) is not None


def sealed_report(s: Session, session_id: str) -> tuple[Report, SignatureRecord] | None:
    """The newest report version and its seal, or None while that version is not sealed (the publication
    is made from it, services/publication.py)."""
    report = _newest_report(s, session_id)
    if report is None:
        return None
    seal = s.scalars(select(SignatureRecord).where(SignatureRecord.document_ref == report.id,
                                                   SignatureRecord.document_kind == "seal").limit(1)).first()
    return None if seal is None else (report, seal)


def seal_report(tx: Tx, seal: CoordinatorSeal, principal: Principal, session_id: str) -> dict[str, Any]:
    """Add the coordinator's seal, with a time-stamp, once every member has signed (or is deemed to agree)."""
    session = check_can_read_session(principal, tx.session.get(EvalSession, session_id, with_for_update=True),
                                     session_id)
    check_mover(tx.session, principal, session, host_only=True)
    _may_sign(session, "report", tx.session)
    report = _newest_report(tx.session, session.id)
    if report is None:
        raise NotFoundError("report of session", session.id)
    missing = _missing(tx.session, session, report)
    if missing:
        raise ApiError(ErrorCode.SIGNATURES_MISSING, f"{len(missing)} member(s) have not signed everything", missing)
    before = report_pdf(tx.session, report)
    now = tx.now()
    after = sign_pdf(before, seal.signer, SEAL_FIELD, name=seal.name, location=seal.code,
                     reason=f"评标报告 v{report.version} 封存 / sealed", at=now, timestamper=seal.timestamper,
                     font=default_font_path(), seal=True)
    check, revision = _accept_revision(tx, seal, report, before, after)
    record = SignatureRecord(
        id=str(uuid.uuid4()), session_id=session.id, member_id=None, document_kind="seal", document_ref=report.id,
        document_sha256=sha256_hex(before), revision=revision, content=after, content_sha256=sha256_hex(after),
        signer=check.signer, region=check.region, certificate_sha256=sha256_hex(check.certificate), evidence=None,
        verification=_pdf_verification(check, now), created_at=now)
    tx.session.add(record)
    tx.record(actor=principal.actor, kind="report.sealed", session_id=session.id,
              payload={"version": report.version, "pdf_sha256": record.content_sha256,
                       "timestamp": record.verification["timestamp"], "signatures": revision})
    return signature_view(record)


# --- reading ----------------------------------------------------------------------------------------------------
def list_signatures(store: Store, principal: Principal, session_id: str) -> list[dict[str, Any]]:
    """Every accepted signature of the session. A member sees the records of their own sheets before the
    phase's sheets are revealed; the records carry hashes only, never scores."""
    with store.read() as s:
        check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        rows = list(s.scalars(select(SignatureRecord).where(SignatureRecord.session_id == session_id)
                              .order_by(SignatureRecord.created_at, SignatureRecord.revision)))
        versions = dict(s.execute(select(Report.id, Report.version).where(Report.session_id == session_id)).all())
        return [{**signature_view(r), **({"report_version": versions.get(r.document_ref)}
                                         if r.document_kind != "sheet" else {})} for r in rows]


def sheet_signature(store: Store, principal: Principal, session_id: str, signature_id: str) -> bytes:
    """A sheet signature's detached CMS, to verify it offline beside the sheet's canonical bytes."""
    with store.read() as s:
        check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        row = s.get(SignatureRecord, signature_id)
        if row is None or row.session_id != session_id or row.document_kind != "sheet":
            raise NotFoundError("sheet signature", signature_id)
        return row.content


def current_report(store: Store, principal: Principal, session_id: str, version: int | None) -> tuple[Report, bytes]:
    """A report version (the newest unless given) and its current revision's PDF."""
    with store.read() as s:
        check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        q = select(Report).where(Report.session_id == session_id)
        report = s.scalars(q.where(Report.version == version) if version else
                           q.order_by(Report.version.desc()).limit(1)).first()
        if report is None:
            raise NotFoundError("report of session", session_id)
        s.expunge(report)
        return report, report_pdf(s, report)


def report_verification(store: Store, seal: CoordinatorSeal, principal: Principal, session_id: str,
                        version: int | None) -> dict[str, Any]:
    """Every signature of a report version's current revision, verified now (a time-stamped one at its time)."""
    report, pdf = current_report(store, principal, session_id, version)
    with store.read() as s:
        trust = trust_store(s, seal.anchors)
    checks = verify_pdf(pdf, trust, trust.recognised_roots(), store.clock.now())
    return {"version": report.version, "pdf_sha256": sha256_hex(pdf), "ok": bool(checks) and all(c.ok for c in checks),
            "signatures": [{"field": c.field, "signer": c.signer, "region": c.region, "intact": c.intact,
                            "valid": c.valid, "trusted": c.trusted, "revocation": c.revocation,
                            "coverage": c.coverage,
                            "timestamp": format_time(c.timestamp) if c.timestamp else None,
                            "reason": c.reason, "problems": list(c.problems)} for c in checks]}

