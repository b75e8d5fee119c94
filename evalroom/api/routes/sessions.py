"""Evaluation sessions and their event stream (REST pages and a resumable websocket).

Websocket protocol (docs/protocols.md has examples): the client opens
``/api/v1/sessions/{id}/events/ws`` and sends, within ``websocket_auth_seconds``::

    {"type": "subscribe", "token": "<access token>", "after": 0}

(browsers cannot set headers on a websocket, so the token travels in this first message, never in the URL,
where it would end up in logs). The server answers ``{"type": "subscribed", "after": N, "head": H}`` and then
sends every event of the session with ``seq > after`` in order, ``{"type": "event", "event": {...}}``, first
the backlog, then live. ``head`` is the newest sequence number this process has routed (api/live.py: the
events reach the stream from the notifier, in memory, not by each stream reading the database). A revoked
token closes its streams at once; expiry is checked each time the stream wakes, at least every 15 seconds.
After a reconnect (to this or any other coordinator process) the client subscribes with the last ``seq`` it
saw, and so misses nothing and sees nothing twice. ``{"type": "ping"}`` is answered ``{"type": "pong"}``. Errors are sent as
``{"type": "error", "error": {"code", "message"}}`` followed by a close with code 4000 + HTTP status (4401
no or bad token, expired token, or no subscribe in time; 4403 role refused; 4404 session unknown or out of
scope; 4400 malformed JSON; 4422 a message of the wrong shape).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, WebSocket, WebSocketDisconnect

from evalroom.api.context import AppContext
from evalroom.api.deps import Admin, Ctx, authenticate, require
from evalroom.api.live import READ_BATCH, Item, Notifier, session_message, session_topic, stream_until_closed
from evalroom.api.params import After, EventLimit
from evalroom.api.wsfirst import close_with_error, first_message
from evalroom.auth.tokens import VerifiedToken
from evalroom.domain.roles import Principal, Role
from evalroom.errors import ApiError, ErrorCode
from evalroom.schemas import (
    MAX_POSITION,
    EventPage,
    EventPublic,
    SessionCreate,
    SessionPublic,
    SessionUpdate,
    SupervisorAssign,
)
from evalroom.services import sessions
from evalroom.services.access import reader_kind
from evalroom.services.accounts import is_revoked

router = APIRouter(prefix="/sessions", tags=["sessions"])

SESSION_READERS = (Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR, Role.EXPERT)
Reader = Annotated[Principal, Depends(require(*SESSION_READERS))]
Creator = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR))]
Operator = Annotated[Principal, Depends(require(Role.HALL_OPERATOR))]
SessionId = Annotated[str, Path(max_length=64)]

# Longest a stream waits for news before it checks its token's expiry and the database again.
STREAM_IDLE_SECONDS = 15.0


@router.post("", status_code=201, summary="Create a session hosted at a venue (operators: their own venue)")
def create(ctx: Ctx, principal: Creator, body: SessionCreate) -> SessionPublic:
    with ctx.store.write() as tx:
        session = sessions.create_session(tx, principal, body)
    return SessionPublic.model_validate(session)


@router.get("", summary="Sessions in the caller's scope")
def list_(ctx: Ctx, principal: Reader) -> list[SessionPublic]:
    return [SessionPublic.model_validate(s) for s in sessions.list_sessions(ctx.store, principal)]


@router.get("/{session_id}", summary="One session, if in the caller's scope")
def get(ctx: Ctx, principal: Reader, session_id: SessionId) -> SessionPublic:
    return SessionPublic.model_validate(sessions.get_session(ctx.store, principal, session_id))


@router.patch("/{session_id}", summary="Change title or schedule (host venue operators, while waiting)")
def update(ctx: Ctx, principal: Operator, session_id: SessionId, body: SessionUpdate) -> SessionPublic:
    with ctx.store.write() as tx:
        session = sessions.update_session(tx, principal, session_id, body)
    return SessionPublic.model_validate(session)


@router.post("/{session_id}/check-in/open", summary="Open check-in (host venue operators); ends 四不知 for the host")
def open_check_in(ctx: Ctx, principal: Operator, session_id: SessionId) -> SessionPublic:
    with ctx.store.write() as tx:
        session = sessions.open_check_in(tx, ctx.settings, principal, session_id)
    return SessionPublic.model_validate(session)


@router.post("/{session_id}/supervisors", status_code=201, summary="Assign a supervisor as primary or secondary")
def assign_supervisor(ctx: Ctx, admin: Admin, session_id: SessionId, body: SupervisorAssign) -> dict[str, str]:
    with ctx.store.write() as tx:
        row = sessions.assign_supervisor(tx, admin.actor, session_id, body)
    return {"session_id": row.session_id, "account_id": row.account_id, "level": row.level}


@router.get("/{session_id}/supervisors", summary="The session's supervisors, primary first (admins)")
def list_supervisors(ctx: Ctx, _admin: Admin, session_id: SessionId) -> list[dict[str, str]]:
    return sessions.list_supervisors(ctx.store, session_id)


@router.get("/{session_id}/events", summary="The session's events after a sequence number")
def events(ctx: Ctx, principal: Reader, session_id: SessionId, after: After = 0,
           limit: EventLimit = 100) -> EventPage:
    evs = sessions.session_events(ctx.store, ctx.settings, principal, session_id, after=after, limit=limit)
    return EventPage(events=[EventPublic(**e) for e in evs], next_after=evs[-1]["seq"] if evs else after)


class _Closed(Exception):
    """The client went away."""


async def _subscribe(ws: WebSocket, ctx: AppContext, notifier: Notifier, session_id: str) -> tuple[VerifiedToken, int]:
    msg = await first_message(ws, ctx.settings.websocket_auth_seconds, "subscribe")
    if not isinstance(msg, dict) or msg.get("type") != "subscribe" or set(msg) - {"type", "token", "after"}:
        raise ApiError(ErrorCode.VALIDATION_FAILED, "expected {\"type\": \"subscribe\", \"token\": ..., \"after\": N}")
    after = msg.get("after", 0)
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_POSITION:
        raise ApiError(ErrorCode.VALIDATION_FAILED, f"'after' must be an integer from 0 to {MAX_POSITION}")
    token = msg.get("token")
    header = ws.headers.get("authorization", "")
    if token is None and header.lower().startswith("bearer "):
        token = header[7:]
    verified = await notifier.run(authenticate, ctx, token if isinstance(token, str) else None)
    if verified.principal.role not in SESSION_READERS:
        raise ApiError(ErrorCode.FORBIDDEN, f"a {verified.principal.role} may not follow session events")
    # Checks scope (404 when out of it) before anything is sent.
    await notifier.run(sessions.get_session, ctx.store, verified.principal, session_id)
    return verified, after


@router.websocket("/{session_id}/events/ws")
async def stream(ws: WebSocket, session_id: str) -> None:
    ctx: AppContext = ws.app.state.ctx
    notifier: Notifier = ws.app.state.notifier
    await ws.accept()
    try:
        verified, cursor = await _subscribe(ws, ctx, notifier, session_id)
    except ApiError as exc:
        await close_with_error(ws, exc)
        return
    except WebSocketDisconnect:
        return
    principal = verified.principal
    sub = notifier.subscribe(session_topic(session_id), reader_kind(principal, session_id), verified.jti)

    def backlog(after: int) -> list[Item]:
        return [(view["seq"], session_message(view)) for view in sessions.session_events(
            ctx.store, ctx.settings, principal, session_id, after=after, limit=READ_BATCH)]

    def check() -> float:
        remaining = (verified.expires_at - ctx.clock.now()).total_seconds()
        if remaining <= 0:
            raise ApiError(ErrorCode.TOKEN_EXPIRED, "the token expired; reconnect with a new one and 'after'")
        return min(STREAM_IDLE_SECONDS, remaining)

    async def client_messages() -> None:
        while True:
            try:
                raw = await ws.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                raise _Closed from None
            with contextlib.suppress(ValueError):
                if json.loads(raw) == {"type": "ping"}:
                    await ws.send_json({"type": "pong"})

    reader = asyncio.create_task(client_messages())
    try:
        # Subscribed first, then checked once more: a revocation committed meanwhile is not missed.
        if await notifier.run(is_revoked, ctx.store, verified.jti):
            raise ApiError(ErrorCode.TOKEN_REVOKED, "the token was revoked")
        await ws.send_json({"type": "subscribed", "session_id": session_id, "after": cursor, "head": notifier.head})
        await stream_until_closed(notifier, sub, cursor, backlog, ws.send_text, check, reader)
    except ApiError as exc:
        await close_with_error(ws, exc)
    except (WebSocketDisconnect, _Closed, RuntimeError):
        pass
    finally:
        notifier.unsubscribe(sub)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, _Closed, Exception):
            await reader
