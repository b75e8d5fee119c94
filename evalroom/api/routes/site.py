"""The site link: the websocket a venue's site agent keeps open to the coordinator.

Protocol (docs/protocols.md, "Site link", has the full catalogue with examples; sites/protocol.py the
envelope and its checks):

1. The coordinator sends ``challenge`` (signed, message 1) with a fresh connection id ``ch``.
2. The agent answers ``hello`` signed with its venue credential: its venue code and ``after``, the last
   event sequence number it processed. A bad signature, an unknown or revoked credential, a credential of
   another venue, a stale or replayed message: ``error`` and close (4401 / 4409).
3. The coordinator sends ``welcome`` (heartbeat interval, ``head``), then every event routed to the venue
   with ``seq > after`` in order (offers in their blind guest view), first the backlog, then live.
4. The agent sends ``inventory`` (rooms, seats, device states), ``heartbeat`` every few seconds, and
   ``confirm`` / ``decline`` for offers; each but heartbeat gets a ``result`` naming the message's ``n``.

Every message in both directions is signed and numbered (replay protection). Business errors (an expired
offer, too few seats) come back as ``result`` with ``ok: false`` and keep the link; protocol errors close it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from evalroom.api.context import AppContext
from evalroom.api.errors import error_body
from evalroom.api.live import READ_BATCH, Item, Notifier, stream_until_closed, venue_topic
from evalroom.auth.tokens import AUDIENCE_MEDIA
from evalroom.clock import format_time
from evalroom.domain.roles import Principal, Role
from evalroom.errors import ApiError, ErrorCode, domain_rules
from evalroom.services import inventory, offers, site_link, tlog
from evalroom.services.media import media_access, record_backup
from evalroom.storage.models import Venue, VenueCredential
from sites.offers import guest_view
from sites.protocol import (
    PROTOCOL,
    BackupRecord,
    Channel,
    Confirm,
    Cosign,
    Decline,
    ES256Signer,
    Heartbeat,
    Hello,
    Inventory,
    LogAlarm,
    MediaToken,
    decode,
    ed25519_verify,
    encode,
    parse_body,
)

router = APIRouter(prefix="/site", tags=["site link"])
log = logging.getLogger(__name__)



class _Closed(Exception):
    """The agent went away."""


class _Fatal(ApiError):
    """An error after which the link is closed (as opposed to a business error answered with a result)."""


class _Silent(ApiError):
    """No heartbeat in time."""


class _Link:
    """One connected agent: the channel, serialised sending, and who it speaks for once it said hello."""

    def __init__(self, ws: WebSocket, ctx: AppContext, notifier: Notifier) -> None:
        self.ws, self.ctx = ws, ctx
        self.run = notifier.run
        """Blocking work of the link (its database reads and writes), off the HTTP handlers' pool."""
        self.channel = Channel(secrets.token_hex(16),
                               skew=timedelta(seconds=ctx.settings.site_message_skew_seconds))
        self._send_lock = asyncio.Lock()
        self.principal: Principal | None = None
        self.signed_by: tuple[Any, str] | None = None
        """The venue and credential id that signed the last message received."""
        self.last_heard = ctx.clock.now()

    async def send(self, type_: str, body: dict[str, Any]) -> None:
        key = self.ctx.keyring.active
        async with self._send_lock:  # seal and send in one step, so numbers go out in order
            env = self.channel.seal(type_, body, now=self.ctx.clock.now(),
                                    signer=ES256Signer(kid=key.kid, private_key=key.private_key))
            await self.ws.send_text(encode(env))

    async def receive(self, timeout: float | None = None) -> tuple[str, dict[str, Any]]:
        try:
            msg = await asyncio.wait_for(self.ws.receive(), timeout)
        except TimeoutError:
            raise ApiError(ErrorCode.NOT_AUTHENTICATED, "no hello in time") from None
        if msg["type"] == "websocket.disconnect":
            raise _Closed
        frame = msg.get("text") if msg.get("text") is not None else msg.get("bytes", b"")
        with domain_rules():
            env = decode(frame)
            # The live credential named by kid, looked up on every message so that a revocation bites at once.
            kid = env.get("kid")
            found = await self.run(inventory.credential_public_key, self.ctx.store, kid) \
                if isinstance(kid, str) else None

            def verify(_kid: str, data: bytes, sig: bytes) -> bool:
                if found is None:
                    return False
                # Once the link said hello, only that venue's credentials count.
                if self.principal is not None and found[0].id != self.principal.venue_id:
                    return False
                return ed25519_verify(found[1], data, sig)

            type_, body = self.channel.open(env, now=self.ctx.clock.now(), verify=verify)
        self.last_heard = self.ctx.clock.now()
        self.signed_by = (found[0], kid)  # type: ignore[index]
        return type_, body

    async def fail(self, exc: ApiError) -> None:
        with contextlib.suppress(Exception):
            await self.send("error", error_body(exc.code, exc.message))
            await self.ws.close(code=4000 + exc.http_status, reason=exc.code.value)


@router.websocket("/ws")
async def site_ws(ws: WebSocket) -> None:
    ctx: AppContext = ws.app.state.ctx
    notifier: Notifier = ws.app.state.notifier
    await ws.accept()
    link = _Link(ws, ctx, notifier)
    try:
        await link.send("challenge", {"protocol": PROTOCOL})
        cursor = await _hello(link, notifier)
    except ApiError as exc:
        await link.fail(exc)
        return
    except (_Closed, WebSocketDisconnect, RuntimeError):
        return
    principal = link.principal
    assert principal is not None and principal.venue_id is not None
    venue_id = principal.venue_id
    sub = notifier.subscribe(venue_topic(venue_id))

    def backlog(after: int) -> list[Item]:
        return [(item["seq"], item) for item in site_link.venue_feed(ctx.store, ctx.settings, venue_id, after=after,
                                                                     limit=READ_BATCH)]

    async def send(item: dict[str, Any]) -> None:
        await link.send("event", item)

    def check() -> float:
        if (ctx.clock.now() - link.last_heard).total_seconds() > ctx.settings.site_offline_after_seconds:
            raise _Silent(ErrorCode.NOT_AUTHENTICATED, "no heartbeat in time; reconnect")
        return min(ctx.settings.site_heartbeat_seconds, 15.0)

    reader = asyncio.create_task(_read_loop(link))
    reason = "disconnected"
    try:
        # Every event routed to the venue after the agent's cursor, first the backlog, then live.
        await stream_until_closed(notifier, sub, cursor, backlog, send, check, reader)
        exc = reader.exception()
        if isinstance(exc, ApiError):
            reason = "protocol_error"
            raise exc
        if exc is not None:
            reason = "internal_error"
            log.error("site link of venue %s failed", principal.venue_id, exc_info=exc)
    except ApiError as exc:
        if isinstance(exc, _Silent):
            reason = "heartbeat_timeout"
        await link.fail(exc)
    except (_Closed, WebSocketDisconnect, RuntimeError):
        pass
    finally:
        notifier.unsubscribe(sub)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        # Shielded: the venue must go offline even when the handler itself is being cancelled (shutdown).
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_close_link, ctx, principal.venue_id, link.channel.id, reason)


def _close_link(ctx: AppContext, venue_id: str, link_id: str, reason: str) -> None:
    with ctx.store.write() as tx:
        site_link.link_closed(tx, venue_id, link_id, reason)


async def _hello(link: _Link, notifier: Notifier) -> int:
    ctx = link.ctx
    type_, body = await link.receive(timeout=ctx.settings.websocket_auth_seconds)
    if type_ != "hello":
        raise ApiError(ErrorCode.VALIDATION_FAILED, "the first message must be hello")
    hello = _parse(type_, body)
    assert isinstance(hello, Hello)
    # receive() verified the signature with the credential named by kid; it must belong to the venue named.
    venue, cred_kid = link.signed_by
    if venue.code != hello.venue:
        raise ApiError(ErrorCode.SIGNATURE_INVALID, f"this credential is not one of venue {hello.venue!r}")
    link.principal = Principal(role=Role.SITE_AGENT, subject=cred_kid, venue_id=venue.id)

    def open_link() -> None:
        with ctx.store.write() as tx:
            site_link.link_opened(tx, link.principal.actor, venue.id, link.channel.id, ctx.settings)
    await link.run(open_link)
    await link.send("welcome", {
        "venue_id": venue.id, "venue_code": venue.code, "after": hello.after, "head": notifier.head,
        "heartbeat_ms": int(ctx.settings.site_heartbeat_seconds * 1000),
        "offline_after_ms": int(ctx.settings.site_offline_after_seconds * 1000),
    })
    return hello.after


def _venue_keys(ctx: AppContext, venue_id: str) -> tuple[str, list[bytes]]:
    """The venue's code and its live credentials' raw Ed25519 keys: the witness keys it cosigns with."""
    with ctx.store.read() as s:
        venue = s.get(Venue, venue_id)
        rows = s.scalars(select(VenueCredential).where(VenueCredential.venue_id == venue_id,
                                                       VenueCredential.revoked_at.is_(None)))
        return venue.code, [base64.urlsafe_b64decode(r.public_key + "=" * (-len(r.public_key) % 4)) for r in rows]


def _parse(type_: str, body: dict[str, Any]) -> Any:
    with domain_rules():
        return parse_body(type_, body)


async def _read_loop(link: _Link) -> None:
    """Handle the agent's messages until it goes away (returns) or breaks the protocol (raises ApiError)."""
    while True:
        try:
            type_, body = await link.receive()
        except (_Closed, WebSocketDisconnect, RuntimeError):
            return
        except ApiError as exc:  # not authentic, not fresh, replayed: the link cannot be trusted any more
            raise _Fatal(exc.code, exc.message) from None
        n = link.channel.received
        try:
            message = _parse(type_, body)
            result = await _handle(link, message)
        except ApiError as exc:
            if isinstance(exc, _Fatal):
                raise
            await link.send("result", {"ref": n, "ok": False, **error_body(exc.code, exc.message)})
            continue
        if result is not None:
            await link.send("result", {"ref": n, "ok": True, **result})


async def _handle(link: _Link, message: Any) -> dict[str, Any] | None:
    ctx, principal = link.ctx, link.principal
    assert principal is not None and principal.venue_id is not None
    venue_id = principal.venue_id

    def write(step: Callable[[Any], Any]) -> Any:
        with ctx.store.write() as tx:
            return step(tx)

    match message:
        case Heartbeat():
            if not await link.run(site_link.record_heartbeat, ctx.store, venue_id, link.channel.id):
                # Swept offline meanwhile (a slow link), or superseded by a newer connection of the venue.
                reopened = await link.run(write, lambda tx: site_link.reopen_link(
                    tx, principal.actor, venue_id, link.channel.id, ctx.settings))
                if not reopened:
                    raise _Fatal(ErrorCode.CONFLICT, "a newer connection speaks for this venue; this one is closed")
            return None
        case Inventory():
            changes = await link.run(write, lambda tx: inventory.report_inventory(
                tx, ctx.settings, principal.actor, venue_id, message))
            return {"changes": changes}
        case Confirm():
            offer = await link.run(write, lambda tx: offers.offer_record(tx.session, offers.confirm_offer(
                tx, principal, message.offer_id, message.version, seat_codes=message.seat_codes)))
            return {"offer": guest_view(offer, ctx.settings.zone)}
        case Decline():
            offer = await link.run(write, lambda tx: offers.offer_record(tx.session, offers.decline_offer(
                tx, principal, message.offer_id, message.version, message.reason)))
            return {"offer": guest_view(offer, ctx.settings.zone)}
        case MediaToken():
            access = await link.run(media_access, ctx.store, principal, message.session_id)
            issued = ctx.tokens.issue(Principal(role=Role.SITE_AGENT, subject=principal.subject, venue_id=venue_id),
                                      audience=AUDIENCE_MEDIA)
            return {"session_id": message.session_id, "token": issued.token,
                    "expires_at": format_time(issued.expires_at), "publish_as": access.publish_as,
                    "path": f"/api/v1/sessions/{message.session_id}/media/ws"}
        case BackupRecord():
            await link.run(write, lambda tx: record_backup(tx, principal, message.session_id,
                                                                    message.publisher, message.track, message.entry))
            return {}
        case Cosign():
            venue, keys = await link.run(_venue_keys, ctx, venue_id)
            count = await link.run(tlog.add_cosignature, ctx.store, venue, keys, message.size, message.root,
                                            message.signature)
            return {"size": message.size, "cosignatures": count}
        case LogAlarm():
            venue, _ = await link.run(_venue_keys, ctx, venue_id)
            await link.run(write, lambda tx: tlog.record_alarm(tx, principal.actor, venue, message.size,
                                                                        message.detail))
            log.error("the transparency log's witness %s raised an alarm at size %d: %s", venue, message.size,
                      message.detail)
            return {}
        case Hello():
            raise ApiError(ErrorCode.CONFLICT, "hello was already said on this connection")
    raise ApiError(ErrorCode.VALIDATION_FAILED, "unexpected message")

