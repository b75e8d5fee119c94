"""The candidates' publication (中标候选人公示): publishing (the host's operators or the admin), the public API and
page (no token), and the objections (the host's operators record them and the answers; the admin, the
session's supervisors and the host's operators read them). services/publication.py holds the rules."""

from __future__ import annotations

from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse

from evalroom.api.deps import Ctx, require
from evalroom.api.routes.pages import headers
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import MAX_VERSION, ObjectionAnswer, ObjectionCreate, PublicationCreate
from evalroom.services import publication

router = APIRouter(tags=["publication"])
page_router = APIRouter(include_in_schema=False)
Publisher = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR))]
HostOperator = Annotated[Principal, Depends(require(Role.HALL_OPERATOR))]
ObjectionReader = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR,
                                                       Role.SUPERVISOR))]
Ident = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=MAX_VERSION)]
View = dict[str, Any]


@router.post("/sessions/{session_id}/publication", status_code=201,
             summary="Publish the candidates of the sealed report (中标候选人公示)")
def publish(ctx: Ctx, principal: Publisher, session_id: Ident, body: PublicationCreate) -> View:
    with ctx.store.write() as tx:
        return publication.publish(tx, ctx.settings, principal, session_id, body)


@router.get("/publications", summary="Every publication, newest first, or one session's (public)")
def list_(ctx: Ctx, limit: Limit = 20, offset: Offset = 0,
          session_id: Annotated[str | None, Query(max_length=64, description="only this session's")] = None
          ) -> list[View]:
    return publication.list_publications(ctx.store, ctx.settings, limit, offset, session_id=session_id)


@router.get("/publications/{publication_id}", summary="One publication (public)")
def get(ctx: Ctx, publication_id: Ident) -> View:
    return publication.get_publication(ctx.store, ctx.settings, publication_id)


@router.post("/publications/{publication_id}/objections", status_code=201,
             summary="Record an objection received (the host's operators)")
def object_(ctx: Ctx, principal: HostOperator, publication_id: Ident, body: ObjectionCreate) -> View:
    with ctx.store.write() as tx:
        return publication.record_objection(tx, ctx.settings, principal, publication_id, body)


@router.get("/publications/{publication_id}/objections", summary="The objections, with their deadlines")
def objections(ctx: Ctx, principal: ObjectionReader, publication_id: Ident) -> list[View]:
    return publication.list_objections(ctx.store, ctx.settings, principal, publication_id)


@router.post("/publications/{publication_id}/objections/{objection_id}/answer",
             summary="Record the tenderer's answer to an objection (the host's operators)")
def answer(ctx: Ctx, principal: HostOperator, publication_id: Ident, objection_id: Ident,
           body: ObjectionAnswer) -> View:
    with ctx.store.write() as tx:
        return publication.answer_objection(tx, ctx.settings, principal, publication_id, objection_id, body)


# --- the public page ------------------------------------------------------------------------------------------
def _publication_html(p: View) -> str:
    e = escape
    state = "公示中" if p["state"] == "open" else "公示期已结束"
    lots = "".join(
        f"<h3>{e(lot['name'])}（{e(lot['lot'])}）</h3><table><thead><tr><th scope=\"col\">排序</th>"
        f"<th scope=\"col\">中标候选人</th><th scope=\"col\">投标报价（元）</th><th scope=\"col\">评标得分</th></tr>"
        "</thead><tbody>" + "".join(
            f"<tr><td>{c['rank']}</td><td>{e(c['bidder_name'])}</td><td>{e(c['price'] or '')}</td>"
            f"<td>{e(c['final'])}</td></tr>" for c in lot["candidates"]) + "</tbody></table>"
        for lot in p["lots"])
    notes = []
    if p["overdue"]:
        notes.append(f"本次公示晚于规定期限（应于 {e(p['publish_by'])} 前公示）。")
    if p["paused"]:
        notes.append(f"有 {p['objections']['unanswered']} 件异议尚待答复，答复前暂停招标投标活动。")
    return (f"<article aria-labelledby=\"p-{e(p['publication_id'])}\">"
            f"<h2 id=\"p-{e(p['publication_id'])}\">{e(p['project']['name'])}（{e(p['project']['code'])}）"
            f"中标候选人公示</h2>"
            f"<p>招标人：{e(p['project']['tenderer'])}；主场：{e(p['host_venue']['name'])}；"
            f"评标会议 {e(p['session']['code'])}</p>"
            f"<p>公示期：{e(p['window']['from'])} 至 {e(p['window']['to'])}（{p['window']['days']} 日，{state}）；"
            f"异议请于公示期内向{e(p['objections_to'])}提出。</p>{lots}"
            + "".join(f"<p>{n}</p>" for n in notes)
            + f"<p><small>已封存评标报告 v{p['report']['version']}，SHA-256 "
              f"<code>{e(p['report']['sealed_pdf_sha256'])}</code>；公示记录已写入透明日志。</small></p></article>")


@page_router.get("/publications", response_class=HTMLResponse)
def page(ctx: Ctx) -> HTMLResponse:
    """The publications as a plain page, rendered here from the public API's records (no script; the page's
    CSP as every page's)."""
    items = publication.list_publications(ctx.store, ctx.settings, 100, 0)
    body = "".join(_publication_html(p) for p in items) or "<p>暂无公示。</p>"
    html = ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>中标候选人公示</title><link rel=\"stylesheet\" href=\"/static/css/app.css\"></head>"
            f"<body><header><h1>中标候选人公示</h1></header><main id=\"main\">{body}</main></body></html>")
    return HTMLResponse(html, headers=headers(ctx.settings))
