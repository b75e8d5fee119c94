"""Media signaling over the coordinator's websocket: ``/api/v1/sessions/{id}/media/ws``.

The client sends, within ``websocket_auth_seconds``, ``{"type": "join", "token": "<token>"}``: a media token
(audience ``evalroom-media``, what the site link gives a venue's agent for one session) or a person's access
token (bound to a venue — operator —, to a seat — expert —, or a supervisor's or the admin's; the rules are
in services/media.py). The server answers ``{"type": "joined", "publish_as": P | null,
"ice_servers": [...], "publishers": [...]}``. Then, each with an optional ``id`` echoed in the reply:

- ``{"type": "publish", "name": "R1/cam", "offer": {sdp, type}}`` → ``{"type": "answer", "publisher",
  "answer"}``: the caller's tracks go to the relay as publisher ``<publish_as>/<name>`` (an expert publishes as
  its seat, without a name);
- ``{"type": "subscribe", "publisher"}`` → ``{"type": "offer", "subscription", "publisher", "offer"}``;
  ``{"type": "answer", "subscription", "answer"}`` → ``{"type": "subscribed", "subscription"}``;
- ``{"type": "unsubscribe", "subscription"}``, ``{"type": "unpublish", "name"}``, ``{"type": "ping"}``.

``{"type": "publishers", "publishers": [...]}`` is pushed whenever the room's list changes. ICE candidates
travel inside the SDP (gathered before it is sent; no trickle), with the configured STUN/TURN servers
(``media_ice_servers``). Errors: ``{"type": "error", "id", "error": {"code", "message"}}``; authentication
failures close the socket as the event stream does (4401, 4403, 4404, 4409 for a session not running).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from evalroom.api.context import AppContext
from evalroom.api.deps import authenticate
from evalroom.api.errors import error_body
from evalroom.api.wsfirst import close_with_error, first_message
from evalroom.auth.tokens import AUDIENCE_MEDIA, VerifiedToken
from evalroom.errors import ApiError, AuthError, ErrorCode
from evalroom.services.media import MediaAccess, MediaHub, media_access

router = APIRouter(tags=["media"])
PUBLISHERS_POLL_SECONDS = 1.0


async def _join(ws: WebSocket, ctx: AppContext, session_id: str) -> MediaAccess:
    msg = await first_message(ws, ctx.settings.websocket_auth_seconds, "join")
    if not isinstance(msg, dict) or msg.get("type") != "join":
        raise ApiError(ErrorCode.VALIDATION_FAILED, 'expected {"type": "join", "token": ...}')
    if not isinstance(msg.get("token"), str):
        raise ApiError(ErrorCode.NOT_AUTHENTICATED, "joining a media room needs an access token")
    verified = await run_in_threadpool(_verify, ctx, msg["token"])
    return await run_in_threadpool(media_access, ctx.store, verified.principal, session_id)


def _verify(ctx: AppContext, token: str) -> VerifiedToken:
    """A media token (what the site link gives a venue's agent) or a person's API token (browser pages)."""
    try:
        return authenticate(ctx, token, AUDIENCE_MEDIA)
    except AuthError as exc:
        if exc.code is not ErrorCode.TOKEN_WRONG_AUDIENCE:
            raise
    return authenticate(ctx, token)


def _publisher_names(feeds: list[dict[str, Any]]) -> list[str]:
    return sorted({f["publisher"] for f in feeds})


@router.websocket("/sessions/{session_id}/media/ws")
async def media_room(ws: WebSocket, session_id: str) -> None:
    ctx: AppContext = ws.app.state.ctx
    hub: MediaHub = ws.app.state.media
    await ws.accept()
    try:
        access = await _join(ws, ctx, session_id)
        publishers = _publisher_names(await hub.call("feeds", session_id))
    except ApiError as exc:
        await close_with_error(ws, exc)
        return
    except WebSocketDisconnect:
        return
    await ws.send_json({"type": "joined", "session_id": session_id, "publish_as": access.publish_as,
                        "ice_servers": ctx.settings.ice_servers, "publishers": publishers})
    mine: dict[str, str] = {}  # name -> publisher id
    subscriptions: set[str] = set()

    async def handle(msg: dict[str, Any]) -> dict[str, Any]:
        kind = msg.get("type")
        if kind == "ping":
            return {"type": "pong"}
        if kind == "publish":
            if access.publish_as is None:
                raise ApiError(ErrorCode.FORBIDDEN, "watching only: this role does not publish")
            name = str(msg.get("name") or "")
            if "/seat-" not in access.publish_as and not name:
                raise ApiError(ErrorCode.VALIDATION_FAILED, "a venue publishes under a name (e.g. R1/cam)")
            publisher = f"{access.publish_as}/{name}" if name and "/seat-" not in access.publish_as \
                else access.publish_as
            answer = await hub.call("publish", session_id, publisher, _sdp(msg.get("offer")))
            mine[name] = publisher
            return {"type": "answer", "publisher": publisher, "answer": answer}
        if kind == "unpublish":
            publisher = mine.pop(str(msg.get("name") or ""), None)
            if publisher is None:
                raise ApiError(ErrorCode.NOT_FOUND, "you publish nothing under that name")
            await hub.call("unpublish", session_id, publisher)
            return {"type": "unpublished", "publisher": publisher}
        if kind == "subscribe":
            offered = await hub.call("subscribe", session_id, str(msg.get("publisher")), access.subscriber)
            subscriptions.add(offered["subscription"])
            return {"type": "offer", "publisher": msg.get("publisher"), **offered}
        if kind == "answer":
            sid = str(msg.get("subscription"))
            if sid not in subscriptions:
                raise ApiError(ErrorCode.NOT_FOUND, "no such subscription of yours")
            await hub.call("answer", sid, _sdp(msg.get("answer")))
            return {"type": "subscribed", "subscription": sid}
        if kind == "unsubscribe":
            sid = str(msg.get("subscription"))
            if sid not in subscriptions:
                raise ApiError(ErrorCode.NOT_FOUND, "no such subscription of yours")
            subscriptions.discard(sid)
            await hub.call("unsubscribe", sid)
            return {"type": "unsubscribed", "subscription": sid}
        raise ApiError(ErrorCode.VALIDATION_FAILED, f"unknown message type {kind!r}")

    async def watch_publishers() -> None:
        nonlocal publishers
        while True:
            await asyncio.sleep(PUBLISHERS_POLL_SECONDS)
            now = _publisher_names(await hub.call("feeds", session_id))
            if now != publishers:
                publishers = now
                await ws.send_json({"type": "publishers", "publishers": now})

    watcher = asyncio.create_task(watch_publishers())
    try:
        while True:
            raw = await ws.receive_text()
            try:
                msg = json.loads(raw)
                if not isinstance(msg, dict):
                    raise ValueError
            except ValueError:
                await ws.send_json({"type": "error", **error_body(ErrorCode.MALFORMED_JSON, "not a JSON object")})
                continue
            try:
                reply = await handle(msg)
            except ApiError as exc:
                reply = {"type": "error", **error_body(exc.code, exc.message)}
            if "id" in msg:
                reply["id"] = msg["id"]
            await ws.send_json(reply)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        watcher.cancel()
        for sid in subscriptions:
            with contextlib.suppress(ApiError):
                await hub.call("unsubscribe", sid)
        for publisher in mine.values():
            with contextlib.suppress(ApiError):
                await hub.call("unpublish", session_id, publisher)


def _sdp(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not isinstance(value.get("sdp"), str) or value.get("type") not in (
            "offer", "answer"):
        raise ApiError(ErrorCode.VALIDATION_FAILED, "expected a session description {sdp, type}")
    return {"sdp": value["sdp"], "type": value["type"]}
