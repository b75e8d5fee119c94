"""The live fan-out (evalroom/api/live.py): a commit is read once and routed to its session's streams only; a
stream too slow for its queue catches up from the database without loss, duplicates or disorder; a revoked
token's streams close at once; what each stream is shown is its reader kind's view."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from conftest import SQLITE_ONLY, TokenFor, World
from fastapi.testclient import TestClient
from servers import eventually
from sqlalchemy import event

from evalroom.api.context import AppContext
from evalroom.api.live import Notifier, session_topic
from evalroom.domain.roles import Role
from evalroom.services import sessions
from evalroom.services.access import ReaderKind


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"][7:]


def _subscribed(ws: Any, token: str, after: int) -> None:
    ws.send_json({"type": "subscribe", "token": token, "after": after})
    assert ws.receive_json()["type"] == "subscribed"


def _rename(client: TestClient, world: World, token_for: TokenFor, title: str, session_id: str | None = None,
            venue_id: str | None = None) -> None:
    headers = token_for(Role.HALL_OPERATOR, **({"venue_id": venue_id} if venue_id else {}))
    resp = client.patch(f"/api/v1/sessions/{session_id or world.session_id}", headers=headers, json={"title": title})
    assert resp.status_code == 200, resp.text


@contextmanager
def reads_of_events(ctx: AppContext) -> Iterator[dict[str, int]]:
    """Counts the statements that read the events table, by the kind of thread that ran them."""
    counts = {"notifier": 0, "streams": 0, "other": 0}

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM events" in statement:
            name = threading.current_thread().name
            counts["notifier" if name.startswith("notifier") else "streams" if name.startswith("streams")
                   else "other"] += 1

    event.listen(ctx.engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(ctx.engine, "before_cursor_execute", count)


@SQLITE_ONLY
def test_a_commit_is_read_once_and_reaches_only_its_sessions_streams(client: TestClient, ctx: AppContext,
                                                                     world: World, token_for: TokenFor) -> None:
    """Twenty streams on one session, five on another: one rename is one read of the new batch by the notifier,
    whatever the number of streams, and no stream reads the database to follow it."""
    url = f"/api/v1/sessions/{world.session_id}/events/ws"
    other_url = f"/api/v1/sessions/{world.other_session_id}/events/ws"
    admin = _token(token_for(Role.COORDINATOR_ADMIN))
    with ExitStack() as stack:
        elsewhere = stack.enter_context(client.websocket_connect(other_url))
        _subscribed(elsewhere, admin, ctx.store.head()[0])
        streams: list[Any] = []
        reads = []
        for count in (1, 20):
            while len(streams) < count:
                streams.append(stack.enter_context(client.websocket_connect(url)))
                _subscribed(streams[-1], admin, ctx.store.head()[0])
            notifier = client.app.state.notifier  # type: ignore[attr-defined]
            eventually(lambda: not any(behind for (_, behind) in notifier.count()), "the streams caught up")
            with reads_of_events(ctx) as counts:
                _rename(client, world, token_for, f"renamed with {count} streams")
                for ws in streams:
                    msg = ws.receive_json()
                    assert (msg["type"], msg["event"]["payload"]) == ("event", {"title": f"renamed with {count} streams"})
            reads.append(dict(counts))
        assert reads[0] == reads[1], reads  # the same reads for 1 stream and for 20
        assert reads[1]["notifier"] >= 1 and reads[1]["streams"] == 0
        # The other session's stream was told nothing: the next thing it sees is its own session's rename.
        _rename(client, world, token_for, "elsewhere", world.other_session_id, world.other_venue_id)
        msg = elsewhere.receive_json()
        assert (msg["event"]["kind"], msg["event"]["payload"]) == ("session.updated", {"title": "elsewhere"})


@SQLITE_ONLY
def test_a_stream_too_slow_for_its_queue_catches_up_in_order_without_loss(ctx: AppContext, world: World) -> None:
    """A subscription that takes nothing while 120 events pass a queue of 50 is dropped to catching up; what it
    is handed afterwards is every event once, in order, as its reader kind sees it."""

    async def scenario() -> tuple[list[int], list[int], bool]:
        notifier = Notifier(ctx.store, ctx.settings, max_pending=50)
        await notifier.start()
        try:
            sub = notifier.subscribe(session_topic(world.session_id), ReaderKind.EXPERT)
            start = notifier.head

            def backlog(after: int) -> list[tuple[int, Any]]:
                return [(v["seq"], v) for v in sessions.session_events(
                    ctx.store, ctx.settings, _expert(world), world.session_id, after=after, limit=500)]

            got, cursor = [], start
            got += [s for s, _, _ in await notifier.next(sub, cursor, backlog, 0.1)]  # the backlog: nothing new
            cursor = max([cursor, *got])
            assert not sub.behind

            def write() -> None:
                for i in range(120):
                    with ctx.store.write() as tx:
                        tx.record(actor="system:test", kind="session.noted", session_id=world.session_id,
                                  payload={"i": i})
            await asyncio.get_running_loop().run_in_executor(None, write)
            while notifier.head < ctx.store.head()[0]:
                await asyncio.sleep(0.01)
            dropped = sub.behind
            while True:
                items = await notifier.next(sub, cursor, backlog, 0.2)
                if not items and not sub.behind:
                    break
                for seq, _, _ in items:
                    if seq > cursor:
                        got.append(seq)
                        cursor = seq
            with ctx.store.read() as s:
                from evalroom.storage.store import read_events
                expected = [e.seq for e in read_events(s, after_seq=start, session_id=world.session_id, limit=1000)]
            return got, expected, dropped
        finally:
            await notifier.stop()

    got, expected, dropped = asyncio.run(scenario())
    assert dropped, "120 events into a queue of 50 must drop it to catching up"
    assert got == expected and len(expected) == 120


def _expert(world: World) -> Any:
    from evalroom.domain.roles import Principal

    return Principal(role=Role.EXPERT, subject="member", session_id=world.session_id, seat="R1/A-01")


def test_logout_closes_the_tokens_streams_at_once(client: TestClient, ctx: AppContext, world: World,
                                                  token_for: TokenFor) -> None:
    """The revocation is pushed to the stream: it closes without waiting for an event or a poll."""
    headers = token_for(Role.SUPERVISOR)
    with client.websocket_connect(f"/api/v1/sessions/{world.session_id}/events/ws") as ws:
        _subscribed(ws, _token(headers), ctx.store.head()[0])
        assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
        msg = ws.receive_json()
        assert (msg["type"], msg["error"]["code"]) == ("error", "token_revoked")


@pytest.mark.parametrize("role, kind", [(Role.COORDINATOR_ADMIN, ReaderKind.OVERSEER),
                                        (Role.SUPERVISOR, ReaderKind.OVERSEER),
                                        (Role.HALL_OPERATOR, ReaderKind.OPERATOR),
                                        (Role.EXPERT, ReaderKind.EXPERT)])
@SQLITE_ONLY
def test_each_reader_is_one_of_three_kinds(role: Role, kind: ReaderKind, ctx: AppContext, world: World,
                                           token_for: TokenFor) -> None:
    from evalroom.services.access import reader_kind

    principal = ctx.tokens.verify(_token(token_for(role))).principal
    assert reader_kind(principal, world.session_id) is kind
