"""The synchronous session: project import, state and phases, review marks, scores, flags, dissent, report.

Who may do what (docs/api.md has the table): the host's operators (or the coordinator admin) import the
project; the host's operators start and archive; the host's operators or the elected chair suspend, resume,
end and move the phases, and record post-report corrections; seated experts submit review marks and scores,
answer their flags, record dissent and ask for more time; the chair confirms flag resolutions and records
how the committee settled a tie that every tie-break left standing. Every reader
of the session (admin, host operators, its supervisors, its experts) reads status, sheets as independence
allows, flags and the report.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from anyio import from_thread
from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response

from evalroom.api.deps import Ctx, require
from evalroom.api.params import VersionQuery
from evalroom.domain.roles import Principal, Role
from evalroom.domain.session_states import Action, Phase
from evalroom.errors import ApiError
from evalroom.schemas import (
    DissentIn,
    FlagExplain,
    PhaseChange,
    PostReportCorrection,
    ReviewSubmit,
    ScoresCorrect,
    ScoresSubmit,
    StateChange,
    TieSettle,
)
from evalroom.services import evaluation, phases, report, sheets, signatures
from signing.canonical import sha256_hex

router = APIRouter(tags=["evaluation"])
log = logging.getLogger(__name__)
Host = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR))]
Reader = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR,
                                              Role.EXPERT))]
Mover = Annotated[Principal, Depends(require(Role.HALL_OPERATOR, Role.EXPERT))]
Expert = Annotated[Principal, Depends(require(Role.EXPERT))]
SessionId = Annotated[str, Path(max_length=64)]
View = dict[str, Any]
PREFIX = "/sessions/{session_id}"


@router.put(PREFIX + "/project", summary="Import the tender (format evalroom-project-v1) while the session waits")
def import_project(ctx: Ctx, principal: Host, session_id: SessionId,
                   document: Annotated[dict[str, Any], Body(description="the project file (docs/formats.md)")]) -> View:
    with ctx.store.write() as tx:
        record = evaluation.import_project(tx, ctx.committee, principal, session_id, document)
        view = {"code": record.code, "name": record.name, "sha256": record.sha256}
    return view


@router.get(PREFIX + "/project", summary="The imported project")
def get_project(ctx: Ctx, principal: Reader, session_id: SessionId) -> View:
    return evaluation.get_project(ctx.store, principal, session_id)


@router.get(PREFIX + "/status", summary="State, phase, what the phase still needs, venues and faults")
def status(ctx: Ctx, principal: Reader, session_id: SessionId) -> View:
    return phases.session_status(ctx.store, ctx.settings, principal, session_id)


@router.post(PREFIX + "/state", summary="Start, suspend, resume, end or archive (host operators; the chair too "
                                         "for suspend, resume and end)")
def change_state(ctx: Ctx, principal: Mover, session_id: SessionId, body: StateChange, request: Request) -> View:
    with ctx.store.write() as tx:
        evaluation.change_state(tx, ctx.settings, principal, session_id, Action(body.action), body.reason)
    if body.action == Action.END.value:  # the recordings are sealed with the session
        try:
            from_thread.run(request.app.state.media.close_room, session_id)
        except ApiError:  # the session has ended all the same; the media sweep seals the room when it can
            log.warning("sealing the media room of session %s failed; the sweep will", session_id, exc_info=True)
    return phases.session_status(ctx.store, ctx.settings, principal, session_id)


@router.post(PREFIX + "/phase", summary="Leave the current phase for the next (host operators or the chair)")
def move_phase(ctx: Ctx, principal: Mover, session_id: SessionId, body: PhaseChange) -> View:
    ahead = phases.report_ahead(ctx.store, ctx.settings, principal, session_id, Phase(body.leave))
    with ctx.store.write() as tx:
        phases.move_phase(tx, ctx.settings, principal, session_id, Phase(body.leave), ahead)
    return phases.session_status(ctx.store, ctx.settings, principal, session_id)


@router.post(PREFIX + "/extension", summary="Say the time is too short (experts); > 1/3 extends the period")
def extension(ctx: Ctx, principal: Expert, session_id: SessionId) -> View:
    with ctx.store.write() as tx:
        return evaluation.request_extension(tx, ctx.settings, principal, session_id)


def _submitted(row: Any, created: bool) -> View:
    return {"member_id": row.member_id, "phase": row.phase, "version": row.version, "sha256": row.sha256,
            "created": created}


@router.post(PREFIX + "/review", summary="Submit the qualification/compliance marks (idempotent)")
def submit_review(ctx: Ctx, principal: Expert, session_id: SessionId, body: ReviewSubmit) -> View:
    with ctx.store.write() as tx:
        row, created = sheets.submit_review(tx, principal, session_id, {k: v.model_dump() for k, v in
                                                                         body.marks.items()})
        return _submitted(row, created)


@router.post(PREFIX + "/scores", summary="Submit the detailed-review sheet (idempotent)")
def submit_scores(ctx: Ctx, principal: Expert, session_id: SessionId, body: ScoresSubmit) -> View:
    with ctx.store.write() as tx:
        row, created = sheets.submit_scores(tx, principal, session_id, body.scores, body.stated)
        return _submitted(row, created)


@router.post(PREFIX + "/scores/corrections", summary="Correct flagged items of one's own sheet (new version)")
def correct_scores(ctx: Ctx, principal: Expert, session_id: SessionId, body: ScoresCorrect) -> View:
    with ctx.store.write() as tx:
        row = sheets.correct_scores(tx, principal, session_id, body.scores, body.reason, body.stated)
        return _submitted(row, True)


@router.get(PREFIX + "/scoring-form", summary="The bids under detailed review and the criteria with their ranges")
def scoring_form(ctx: Ctx, principal: Reader, session_id: SessionId) -> View:
    return sheets.scoring_form(ctx.store, principal, session_id)


@router.get(PREFIX + "/sheets", summary="A phase's sheets as the caller may see them (sealed until all submit)")
def list_sheets(ctx: Ctx, principal: Reader, session_id: SessionId,
                phase: Annotated[str, Query(max_length=20)] = "detailed_review") -> View:
    return sheets.list_sheets(ctx.store, principal, session_id, phase)


@router.get(PREFIX + "/sheets/{phase}/{member_id}", summary="Every version of one member's sheet")
def sheet_history(ctx: Ctx, principal: Reader, session_id: SessionId, phase: Annotated[str, Path(max_length=20)],
                  member_id: Annotated[str, Path(max_length=64)]) -> list[View]:
    return sheets.get_sheet_history(ctx.store, principal, session_id, phase, member_id)


@router.get(PREFIX + "/flags", summary="Findings of the automatic checks and their resolution")
def list_flags(ctx: Ctx, principal: Reader, session_id: SessionId) -> list[View]:
    return sheets.list_flags(ctx.store, principal, session_id)


@router.post(PREFIX + "/flags/{flag_id}/explanation", summary="Explain a flag in writing (its member)")
def explain(ctx: Ctx, principal: Expert, session_id: SessionId, flag_id: Annotated[str, Path(max_length=64)],
            body: FlagExplain) -> View:
    with ctx.store.write() as tx:
        return sheets.flag_view(sheets.explain_flag(tx, principal, session_id, flag_id, body.text))


@router.post(PREFIX + "/flags/{flag_id}/confirm", summary="Confirm a flag's resolution (the chair)")
def confirm(ctx: Ctx, principal: Expert, session_id: SessionId,
            flag_id: Annotated[str, Path(max_length=64)]) -> View:
    with ctx.store.write() as tx:
        return sheets.flag_view(sheets.confirm_flag(tx, principal, session_id, flag_id))


@router.put(PREFIX + "/dissent", summary="Record one's written dissent (保留意见) before the report")
def dissent(ctx: Ctx, principal: Expert, session_id: SessionId, body: DissentIn) -> View:
    with ctx.store.write() as tx:
        row = sheets.record_dissent(tx, principal, session_id, body.text)
        return {"member_id": row.member_id, "text": row.text}


@router.get(PREFIX + "/ties", summary="The ties left by every tie-break among the candidates, still to settle")
def ties(ctx: Ctx, principal: Reader, session_id: SessionId) -> list[View]:
    return sheets.ties_to_settle(ctx.store, principal, session_id)


@router.post(PREFIX + "/ties", summary="Record how the committee settled a tie left by every tie-break (the chair)")
def settle_tie(ctx: Ctx, principal: Expert, session_id: SessionId, body: TieSettle) -> View:
    with ctx.store.write() as tx:
        row = sheets.settle_tie(tx, principal, session_id, body.lot, body.order, body.reason)
        return {"lot": row.lot, "order": row.decided_order, "reason": row.reason}


@router.post(PREFIX + "/report/corrections", summary="Correct a score after the report, for an allowed cause")
def post_report_correction(ctx: Ctx, principal: Mover, session_id: SessionId, body: PostReportCorrection) -> View:
    with ctx.store.write() as tx:
        row = report.correct_after_report(tx, ctx.settings, principal, session_id, body.member_id, body.bid,
                                          body.criterion, body.value, body.cause, body.reason)
        return _submitted(row, True)


@router.get(PREFIX + "/report", summary="The report's JSON twin (newest version unless ?version=)")
def get_report_json(ctx: Ctx, principal: Reader, session_id: SessionId,
                    version: VersionQuery = None) -> Response:
    row = report.get_report(ctx.store, principal, session_id, version)
    return Response(row.json_bytes, media_type="application/json",
                    headers={"X-Report-Version": str(row.version), "X-Content-SHA256": row.json_sha256})


@router.get(PREFIX + "/report.pdf", summary="The report as PDF with every signature so far (newest version unless "
                                          "?version=)")
def get_report_pdf(ctx: Ctx, principal: Reader, session_id: SessionId,
                   version: VersionQuery = None) -> Response:
    row, pdf = signatures.current_report(ctx.store, principal, session_id, version)
    return Response(pdf, media_type="application/pdf",
                    headers={"X-Report-Version": str(row.version), "X-Content-SHA256": sha256_hex(pdf),
                             "Content-Disposition": f'inline; filename="report-v{row.version}.pdf"'})
