"""Signing in a session: second factors, documents to sign, authorisations, signatures, the seal.

Who may do what (docs/api.md has the table): a seated member registers their own second factors, fetches and
signs their own sheets and the report; an operator of a member's venue resets that member's factors; the host's
operators record deemed agreement and seal the report; every reader of the session lists the signatures and
verifies the report. The flow is in services/signatures.py and docs/signing.md.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from evalroom.api.deps import Ctx, require
from evalroom.api.params import VersionQuery
from evalroom.domain.roles import Principal, Role
from evalroom.errors import ApiError, ErrorCode
from evalroom.schemas import (
    DeemedAgree,
    DocumentRef,
    SheetPhase,
    SheetSignature,
    SigningAuthorise,
    WebAuthnRegister,
)
from evalroom.services import signatures
from evalroom.services.evaluation import seated_member

router = APIRouter(tags=["signing"])
Reader = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR,
                                              Role.EXPERT))]
Operator = Annotated[Principal, Depends(require(Role.HALL_OPERATOR))]
Expert = Annotated[Principal, Depends(require(Role.EXPERT))]
SessionId = Annotated[str, Path(max_length=64)]
View = dict[str, Any]
PREFIX = "/sessions/{session_id}"


@router.post(PREFIX + "/factors/totp", status_code=201,
             summary="Register a one-time-code authenticator (the secret is shown this once)")
def enrol_totp(ctx: Ctx, principal: Expert, session_id: SessionId) -> View:
    with ctx.store.write() as tx:
        return signatures.enrol_totp(tx, ctx.sealer, ctx.settings, principal, session_id)


@router.post(PREFIX + "/factors/webauthn/options", summary="Options to register a WebAuthn authenticator")
def webauthn_options(ctx: Ctx, principal: Expert, session_id: SessionId) -> Response:
    with ctx.store.write() as tx:
        options = signatures.webauthn_registration_options(tx, ctx.settings, principal, session_id)
    return Response(options, media_type="application/json")


@router.post(PREFIX + "/factors/webauthn", status_code=201, summary="Register a WebAuthn authenticator")
def webauthn_register(ctx: Ctx, principal: Expert, session_id: SessionId, body: WebAuthnRegister) -> View:
    with ctx.store.write() as tx:
        return signatures.register_webauthn(tx, ctx.settings, principal, session_id, body.nonce, body.credential)


@router.delete(PREFIX + "/members/{member_id}/factors",
               summary="Remove a member's second factors (an operator of the member's venue, identity checked)")
def reset_factors(ctx: Ctx, principal: Operator, session_id: SessionId,
                  member_id: Annotated[str, Path(max_length=64)]) -> View:
    with ctx.store.write() as tx:
        return signatures.reset_factors(tx, principal, session_id, member_id)


@router.get(PREFIX + "/signing/document",
            summary="The bytes the caller signs: their own newest sheet of a phase, or the report's current revision")
def signing_document(ctx: Ctx, principal: Expert, session_id: SessionId,
                     document: Annotated[str, Query(pattern="^(sheet|report)$")],
                     phase: Annotated[SheetPhase | None, Query()] = None) -> Response:
    with ctx.store.write() as tx:  # the member is resolved under the session's lock, as for signing itself
        member, session = seated_member(tx.session, principal, session_id)
        doc = signatures.current_document(tx.session, session, member, document, phase)
    return Response(doc.content, media_type=doc.media_type,
                    headers={"X-Content-SHA256": doc.sha256, "X-Document": doc.label})


@router.post(PREFIX + "/signing/challenges", status_code=201,
             summary="A single-use WebAuthn challenge derived from the document's hash")
def signing_challenge(ctx: Ctx, principal: Expert, session_id: SessionId, body: DocumentRef) -> View:
    with ctx.store.write() as tx:
        return signatures.signing_challenge(tx, ctx.settings, principal, session_id, body.document, body.phase,
                                            body.sha256)


@router.post(PREFIX + "/signing/authorisations", status_code=201,
             summary="Present the second factor for one document; get an authorisation to sign it once")
def authorise(ctx: Ctx, principal: Expert, session_id: SessionId, body: SigningAuthorise) -> View:
    return signatures.authorise(ctx.store, ctx.sealer, ctx.settings, principal, session_id, body.document,
                                body.phase, body.sha256, body.factor.model_dump())


@router.post(PREFIX + "/signatures/sheets", status_code=201,
             summary="Hand in the detached CAdES signature over the authorised sheet")
def sign_sheet(ctx: Ctx, principal: Expert, session_id: SessionId, body: SheetSignature) -> View:
    try:
        cms = base64.b64decode(body.cms, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(ErrorCode.INVALID_INPUT, "cms is not base64") from None
    seal = ctx.seal()
    with ctx.store.write() as tx:
        return signatures.sign_sheet(tx, seal, principal, session_id, body.authorisation, cms)


@router.post(PREFIX + "/signatures/report", status_code=201,
             summary="Hand in the report with the caller's PAdES signature added (body: application/pdf)")
async def sign_report(ctx: Ctx, principal: Expert, session_id: SessionId, request: Request,
                      authorisation: Annotated[str, Query(pattern=r"^[0-9a-f-]{36}$")]) -> View:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/pdf":
        raise ApiError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "the body is the signed PDF (application/pdf)")
    pdf = await request.body()
    seal = ctx.seal()

    def accept() -> View:
        with ctx.store.write() as tx:
            return signatures.sign_report(tx, seal, principal, session_id, authorisation, pdf)

    return await run_in_threadpool(accept)  # verifying a PDF takes a while; not on the event loop


@router.post(PREFIX + "/report/deemed-agreements", status_code=201,
             summary="Record that a member refused to sign without a written dissent: deemed to agree (host)")
def deem_agreed(ctx: Ctx, principal: Operator, session_id: SessionId, body: DeemedAgree) -> View:
    with ctx.store.write() as tx:
        return signatures.deem_agreed(tx, principal, session_id, body.member_id, body.reason)


@router.post(PREFIX + "/report/seal", status_code=201,
             summary="Seal the signed report with the coordinator's seal and a time-stamp (host)")
def seal_report(ctx: Ctx, principal: Operator, session_id: SessionId) -> View:
    seal = ctx.seal()
    with ctx.store.write() as tx:
        return signatures.seal_report(tx, seal, principal, session_id)


@router.get(PREFIX + "/signatures", summary="Every accepted signature, with its factor evidence and verification")
def list_signatures(ctx: Ctx, principal: Reader, session_id: SessionId) -> list[View]:
    return signatures.list_signatures(ctx.store, principal, session_id)


@router.get(PREFIX + "/signatures/{signature_id}.p7s", summary="A sheet signature's detached CMS (DER)")
def sheet_signature(ctx: Ctx, principal: Reader, session_id: SessionId,
                    signature_id: Annotated[str, Path(max_length=64)]) -> Response:
    der = signatures.sheet_signature(ctx.store, principal, session_id, signature_id)
    return Response(der, media_type="application/pkcs7-signature")


@router.get(PREFIX + "/report/verification", summary="Every signature of the report, verified now")
def report_verification(ctx: Ctx, principal: Reader, session_id: SessionId,
                        version: VersionQuery = None) -> View:
    return signatures.report_verification(ctx.store, ctx.seal(), principal, session_id, version)
