"""Media through the coordinator (a real ``evalroom serve``, which starts its own media worker): signaling over
``/sessions/{id}/media/ws`` with the session's tokens, a host venue's camera received by the guest venue and
by a supervisor, an expert publishing from the seat, the recordings' segments as events of the session, and
the room sealed when the session ends. Who may join is checked at the door."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from committee_world import CommitteeWorld, build
from conftest import SQLITE_ONLY
from media_world import until
from servers import Coordinator
from session_world import ready
from test_session_servers import clock, server_env, settings  # noqa: F401 — the real-time world's fixtures
from websockets.asyncio.client import connect

from evalroom.domain.recording import media_lines
from evalroom.domain.roles import Principal, Role
from evalroom.storage.models import EvalSession
from media.janus import JanusServer
from media.manifest import verify_manifest
from media.sources import pattern, player, tone

pytestmark = pytest.mark.timeout(300)


class Room:
    """One client of the media room: the signaling socket and its peer connections."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.pcs: list[RTCPeerConnection] = []
        self.got: dict[str, list[Any]] = {}
        self.players: list[Any] = []
        self._ids = 0

    async def __aenter__(self) -> Room:
        self.ws = await connect(self.url)
        await self.ws.send(json.dumps({"type": "join", "token": self.token}))
        self.joined = json.loads(await self.ws.recv())
        return self

    async def __aexit__(self, *exc: object) -> None:
        for pc in self.pcs:
            await pc.close()
        for p in self.players:
            for t in (p.audio, p.video):
                if t:
                    t.stop()
        await self.ws.close()

    async def ask(self, msg: dict[str, Any]) -> dict[str, Any]:
        self._ids += 1
        await self.ws.send(json.dumps({**msg, "id": self._ids}))
        while True:
            reply = json.loads(await self.ws.recv())
            if reply.get("id") == self._ids:
                return reply

    async def publish(self, name: str = "") -> dict[str, Any]:
        pc = RTCPeerConnection()
        self.pcs.append(pc)
        self.players = [player(pattern(640, 360, 30)), player(tone())]
        pc.addTrack(self.players[0].video)
        pc.addTrack(self.players[1].audio)
        await pc.setLocalDescription(await pc.createOffer())
        reply = await self.ask({"type": "publish", "name": name, "offer": {
            "sdp": pc.localDescription.sdp, "type": pc.localDescription.type}})
        if reply["type"] == "answer":
            await pc.setRemoteDescription(RTCSessionDescription(**reply["answer"]))
        return reply

    async def subscribe(self, publisher: str) -> dict[str, Any]:
        offered = await self.ask({"type": "subscribe", "publisher": publisher})
        if offered["type"] != "offer":
            return offered
        pc = RTCPeerConnection()
        self.pcs.append(pc)
        frames = self.got.setdefault(publisher, [])

        @pc.on("track")
        def on_track(track: Any) -> None:
            async def pull() -> None:
                try:
                    while True:
                        frame = await track.recv()
                        if track.kind == "video":
                            frames.append(frame)
                except MediaStreamError:
                    pass
            asyncio.ensure_future(pull())

        await pc.setRemoteDescription(RTCSessionDescription(**offered["offer"]))
        await pc.setLocalDescription(await pc.createAnswer())
        return await self.ask({"type": "answer", "subscription": offered["subscription"],
                               "answer": {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}})


def token(w: CommitteeWorld, principal: Principal) -> str:
    return w.ctx.tokens.issue(principal).token


def test_venues_and_supervisors_see_each_other_and_the_room_is_recorded(ctx, client, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                        db_url: str) -> None:
    room_scenario(ctx, client, tmp_path, db_url, "embedded")


@SQLITE_ONLY
def test_the_same_with_a_janus_node_as_the_backend(ctx, client, tmp_path: Path, db_url: str) -> None:  # type: ignore[no-untyped-def]
    room_scenario(ctx, client, tmp_path, db_url, "janus")


def room_scenario(ctx: Any, client: Any, tmp_path: Path, db_url: str, backend: str) -> None:
    w = build(ctx, client, start=ctx.clock.now() + timedelta(hours=1))
    experts = ready(w)
    server_settings: dict[str, str] = {"site_offline_after_seconds": "3600", "media_segment_seconds": "1"}
    janus = None
    if backend == "janus":  # a real Janus node beside the coordinator, which drives it
        janus = JanusServer(tmp_path / "janus")
        janus.start()
        server_settings |= {"media_backend": "janus", "janus_urls": janus.url, "janus_recordings_dir": str(janus.recordings)}
    env = server_env(db_url, **server_settings)
    server = Coordinator(tmp_path, env)
    url = server.base.replace("http", "ws", 1) + f"/api/v1/sessions/{w.session_id}/media/ws"
    host = Principal(role=Role.HALL_OPERATOR, subject="host-op", venue_id=w.host_venue_id)
    guest = Principal(role=Role.HALL_OPERATOR, subject="guest-op", venue_id=w.guest_venue_id)
    expert_token = next(iter(experts.values()))["Authorization"][7:]

    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with Room(url, token(w, host)) as jn, Room(url, token(w, guest)) as xa, \
                Room(url, w.supervisor()["Authorization"][7:]) as sup, Room(url, expert_token) as seat:
            out["joined"] = (jn.joined, sup.joined, seat.joined)
            published = await jn.publish("R1/cam")
            out["published"] = published
            out["seat"] = await seat.publish()
            out["watch_only"] = await sup.publish("x")
            for room in (xa, sup):
                assert (await room.subscribe(published["publisher"]))["type"] == "subscribed"
            out["unknown"] = await xa.subscribe("nobody/cam")
            # Wait for frames rather than a fixed time: a loaded machine (a moved-clock run on both cores)
            # encodes slower than real time.
            await until(lambda: all(len(r.got.get(published["publisher"], [])) > 40 for r in (xa, sup)),
                        timeout=60, what="frames at the guest and the supervisor")
            out["frames"] = {name: len(r.got.get(published["publisher"], [])) for name, r in
                             (("guest", xa), ("supervisor", sup))}
        # Outsiders are refused at the door.
        for bad, expected in ((Principal(role=Role.HALL_OPERATOR, subject="x", venue_id="nowhere"), 4404),
                              (Principal(role=Role.SITE_AGENT, subject="agent", venue_id="nowhere"), 4404)):
            async with connect(url) as ws:
                await ws.send(json.dumps({"type": "join", "token": token(w, bad)}))
                reply = json.loads(await ws.recv())
                await ws.wait_closed()
                out.setdefault("refused", []).append((reply["error"]["code"], ws.close_code, expected))
        async with connect(url) as ws:
            await ws.send(json.dumps({"type": "join", "token": "not a token"}))
            json.loads(await ws.recv())
            await ws.wait_closed()
            out["bad_token"] = ws.close_code
        return out

    try:
        out = asyncio.run(scenario())
        jn_joined, sup_joined, seat_joined = out["joined"]
        assert jn_joined["type"] == "joined" and sup_joined["publish_as"] is None
        assert seat_joined["publish_as"].split("/")[1].startswith("seat-")
        assert out["published"]["type"] == "answer" and out["published"]["publisher"].endswith("/R1/cam")
        assert out["seat"]["type"] == "answer"
        assert out["watch_only"]["type"] == "error" and out["watch_only"]["error"]["code"] == "forbidden"
        assert out["unknown"]["type"] == "error" and out["unknown"]["error"]["code"] == "not_found"
        assert out["frames"]["guest"] > 40 and out["frames"]["supervisor"] > 40, out["frames"]
        assert [(code, close) for code, close, _ in out["refused"]] == [("not_found", 4404)] * 2
        assert out["bad_token"] == 4401

        # The segments are events of the session; ending the session seals the room.
        with w.ctx.store.write() as tx:
            tx.session.get(EvalSession, w.session_id).state = "ended"
        admin = {"Authorization": f"Bearer {token(w, Principal(role=Role.COORDINATOR_ADMIN, subject='admin'))}"}
        deadline = time.monotonic() + 30
        while True:
            events = httpx.get(f"{server.base}/api/v1/sessions/{w.session_id}/events", headers=admin,
                               params={"limit": 1000}).json()["events"]
            lines = [line for e in events for line in media_lines(e["kind"], e["payload"])]
            kinds = [kind for kind, _ in lines]
            if kinds.count("media.track_sealed") >= 4 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert kinds.count("media.track_sealed") == 4, kinds  # camera + microphone of the room and the seat
        segments = [p for kind, p in lines if kind == "media.segment_recorded"]
        assert len(segments) >= 8
        assert all(len(s["sha256"]) == 64 and s["wallclock_start"] <= s["wallclock_end"] for s in segments)
    finally:
        server.stop()
        if janus is not None:
            janus.stop()
    tracks = [d for d in (tmp_path / "recordings" / w.session_id).glob("*/*")]
    assert len(tracks) == 4
    for directory in tracks:
        report = verify_manifest(directory)
        assert report.ok and report.sealed, (directory, report.problems)


@SQLITE_ONLY
def test_venue_agents_publish_their_rooms_and_keep_a_backup_that_reconciles(ctx, client, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                            db_url: str) -> None:
    """Real site agents with synthetic cameras and microphones: when the session starts each publishes into
    the media room (the coordinator records both venues), records what it sent locally and reports each
    backup segment's hash over the site link; when the session ends they stop and seal. The guest's copy,
    handed over, reconciles against the logged hashes; a changed file is named."""
    from committee_world import draw, open_check_in, seat_everyone
    from servers import Agent, evalroom_cli
    from servers import eventually as wait
    from session_world import import_project

    from evalroom.services import evaluation

    w = build(ctx, client, start=ctx.clock.now() + timedelta(hours=1))
    import_project(w)
    draw(w)
    open_check_in(w)
    seat_everyone(w)
    env = server_env(db_url, media_segment_seconds="1")
    server = Coordinator(tmp_path, env)
    api = httpx.Client(base_url=server.base, headers=w.admin(), timeout=10)
    sources = [{"name": "R1/cam", "kind": "video", "source": "testsrc2=size=640x360:rate=30", "width": 640,
                "height": 360}, {"name": "R1/mic", "kind": "audio", "source": "sine=frequency=440"}]
    agents: dict[str, Agent] = {}
    url = f"/api/v1/sessions/{w.session_id}"

    def events() -> list[dict[str, Any]]:
        return api.get(f"{url}/events", params={"limit": 1000}).json()["events"]

    try:
        venues = {v: api.get(f"/api/v1/venues/{v}").json() for v in (w.host_venue_id, w.guest_venue_id)}
        for vid in venues:
            agents[vid] = Agent(tmp_path / "agents", venues[vid], api, env, server.base, seats=6, media=sources)
        wait(lambda: all(v["online"] for v in httpx.get(f"{server.base}{url}/status", headers=w.host_op())
                         .json()["venues"]), "both venues online")
        assert httpx.post(f"{server.base}{url}/state", headers=w.host_op(), json={"action": "start"}).status_code == 200
        codes = {vid: venues[vid]["code"] for vid in venues}

        def recorded() -> set[str]:
            return {p["publisher"] for e in events() for kind, p in media_lines(e["kind"], e["payload"])
                    if kind == "media.segment_recorded"}

        expected = {f"{c}/R1/{n}" for c in codes.values() for n in ("cam", "mic")}
        wait(lambda: expected <= recorded(), "both venues' cameras and microphones recorded at the coordinator")
        wait(lambda: {e["payload"]["venue"] for e in events() if e["kind"] == "media.backup_recorded"}
             == set(codes.values()), "both venues' backups reported")

        # The end, as the state machine records it (the full evaluation is another test's): the agents stop.
        with w.ctx.store.write() as tx:
            session = tx.session.get(EvalSession, w.session_id)
            session.state, session.ended_at, session.end_reason = "ended", tx.now(), "completed"
            evaluation.record_change(tx, "host-op", session, "session.state_changed",
                                     {"action": "end", "from": "evaluating", "reason": None})
        wait(lambda: sum(e["kind"] == "media.backup_recorded" and e["payload"]["entry"]["type"] == "seal"
                         for e in events()) == 4, "both agents sealed their backups")
        wait(lambda: sum(kind == "media.track_sealed" for e in events() for kind, _ in media_lines(
            e["kind"], e["payload"])) == 4, "the room sealed")
    finally:
        for agent in agents.values():
            if agent.proc.poll() is None:
                agent.stop()
        api.close()
        server.stop()

    guest_copy = agents[w.guest_venue_id].state / "recordings" / w.session_id
    args = ("media", "reconcile", "--data", str(tmp_path), "--session", w.session_id,
            "--venue", codes[w.guest_venue_id], "--from", str(guest_copy))
    ok = evalroom_cli(*args, env=env)
    assert "verdict: OK" in ok.stdout, ok.stdout
    victim = sorted((guest_copy / "R1_cam").glob("seg-*.webm"))[0]
    victim.write_bytes(victim.read_bytes()[:-10])
    import subprocess
    import sys
    changed = subprocess.run([sys.executable, "-m", "evalroom", *args], env=env, capture_output=True, text=True)
    assert changed.returncode == 1 and f"R1/cam/{victim.name}: does not match" in changed.stdout, changed.stdout
