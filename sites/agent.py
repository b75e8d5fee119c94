"""The site agent: the process at each venue that keeps the venue connected to the coordinator.

``evalroom site-agent --venue JN-GGZY --coordinator https://coordinator.example --key venue-key.pem
--inventory rooms.toml --state-dir /var/lib/evalroom-agent`` connects to the coordinator's site link
(``/api/v1/site/ws``, protocol in sites/protocol.py and docs/protocols.md), reports the venue's rooms, seats
and device states from the inventory file, sends heartbeats, and receives the events routed to the venue:
offers (in their blind guest view), changes and cancellations, faults marked at the coordinator.

Nothing received is lost and nothing is processed twice. Every event is appended to ``inbox.jsonl`` in the
state directory (flushed and fsynced) before it is acted on, and the last line's ``seq`` is where the agent
resumes: after a crash, a restart or a network loss it says ``hello`` with that ``after`` and the coordinator
sends exactly what followed. An event at or below it that arrives anyway is dropped and counted in
``status.json`` (``duplicates``), so a test can show there were none.

Network loss is found by websocket pings (no pong within ``ping_timeout``); the agent then reconnects with
exponential backoff and jitter. The inventory file is read again on every heartbeat and reported when it
changed, so an operator can mark a camera ``fault`` by editing one line.

With ``--auto-confirm`` the agent confirms every pending offer (the coordinator picks usable, free seats)
and declines it with a reason when the venue has too few — what the demo's agents do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import websockets
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from pydantic import ValidationError

from sites.errors import RuleViolation
from sites.media import Refused, VenueMedia, load_sources
from sites.protocol import (
    PROTOCOL,
    Channel,
    Ed25519Signer,
    Inventory,
    decode,
    encode,
    es256_verifier,
    load_agent_key,
)
from sites.witness import Witness

__all__ = ["AgentConfig", "SiteAgent", "load_inventory"]

log = logging.getLogger("evalroom.site_agent")

SITE_PATH = "/api/v1/site/ws"
JWKS_PATH = "/api/v1/auth/jwks"


def load_inventory(path: Path) -> Inventory:
    """Read the venue's inventory file (TOML; docs/operations.md has an example). Raises ValueError with the
    place of the first problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"inventory {path}: {exc}") from None
    unknown = sorted(set(data) - {"rooms"})
    if unknown:
        raise ValueError(f"inventory {path}: unknown key(s) {', '.join(unknown)} (only [[rooms]])")
    rooms = []
    for room in data.get("rooms", []):
        seats = [{"code": seat.get("code"), "devices": {k: v for k, v in seat.items() if k != "code"}}
                 for seat in room.get("seats", [])]
        rooms.append({**{k: v for k, v in room.items() if k != "seats"}, "seats": seats})
    try:
        return Inventory.model_validate({"rooms": rooms})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"inventory {path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


@dataclass
class AgentConfig:
    venue: str
    coordinator: str
    """The coordinator's base URL, http(s)://host:port."""
    key_file: Path
    inventory_file: Path
    state_dir: Path
    auto_confirm: bool = False
    open_timeout: float = 10.0
    ping_interval: float = 5.0
    ping_timeout: float = 10.0
    backoff_initial: float = 0.5
    backoff_max: float = 15.0
    skew_seconds: float = 120.0
    """How far the coordinator's message times may be from this machine's clock (as site_message_skew_seconds)."""
    media_file: Path | None = None
    """The venue's cameras and microphones to publish in its running sessions (sites/media.py)."""
    witness_seconds: float = 5.0
    """How often the agent checks the transparency log's newest checkpoint and cosigns it (sites/witness.py)."""


@dataclass
class _Status:
    venue: str
    connected: bool = False
    connections: int = 0
    last_seq: int = 0
    received: int = 0
    duplicates: int = 0
    last_error: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)


class _ProtocolFailure(Exception):
    """The coordinator answered with an error or broke the protocol; reconnect after a backoff."""


class SiteAgent:
    def __init__(self, config: AgentConfig, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.clock = clock
        self.signer = Ed25519Signer(load_agent_key(config.key_file.read_bytes()))
        self.inventory = load_inventory(config.inventory_file)
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.inbox = config.state_dir / "inbox.jsonl"
        self.status = _Status(venue=config.venue, last_seq=self._last_inbox_seq())
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._stop = asyncio.Event()
        self._waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.witness = Witness(config.venue, load_agent_key(config.key_file.read_bytes()), config.coordinator,
                               config.state_dir / "witness.json")
        self.media = None if config.media_file is None else VenueMedia(
            config.venue, self._ws_base(), load_sources(config.media_file), config.state_dir / "recordings")

    # --- durable state --------------------------------------------------------------------------------
    def _last_inbox_seq(self) -> int:
        items = self._read_inbox()
        return items[-1]["seq"] if items else 0

    def _pending_offers(self) -> list[dict[str, Any]]:
        """Offers whose latest state in the inbox is pending."""
        latest: dict[str, dict[str, Any]] = {}
        for item in self._read_inbox():
            offer = item["data"].get("offer")
            if offer:
                latest[offer["offer_id"]] = offer
        return [o for o in latest.values() if o["state"] == "pending"]

    def _read_inbox(self) -> list[dict[str, Any]]:
        if not self.inbox.exists():
            return []
        with self.inbox.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def _append_inbox(self, item: dict[str, Any]) -> None:
        with self.inbox.open("a", encoding="utf-8") as f:
            f.write(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _write_status(self) -> None:
        path = self.config.state_dir / "status.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status.__dict__, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)

    # --- the coordinator's keys -----------------------------------------------------------------------
    def _coordinator_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        return self._keys.get(kid)

    async def _refresh_keys(self) -> None:
        """Fetch the coordinator's published keys (over TLS in production: that is what makes them its own)."""
        async with httpx.AsyncClient(timeout=self.config.open_timeout) as client:
            resp = await client.get(self.config.coordinator.rstrip("/") + JWKS_PATH)
            resp.raise_for_status()
        keys = {}
        for jwk in resp.json()["keys"]:
            key = ECAlgorithm.from_jwk(json.dumps(jwk))
            if isinstance(key, ec.EllipticCurvePublicKey):
                keys[jwk["kid"]] = key
        self._keys = keys

    def _ws_base(self) -> str:
        parts = urlsplit(self.config.coordinator)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))

    def _ws_url(self) -> str:
        return self._ws_base() + SITE_PATH

    # --- running --------------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Stay connected until :meth:`stop`; reconnect with exponential backoff and jitter after any loss."""
        if self.media is not None:
            self.media.resume(self._read_inbox())
        try:
            await self._connected()
        finally:
            if self.media is not None:
                await self.media.close()

    async def _connected(self) -> None:
        backoff = self.config.backoff_initial
        while not self._stop.is_set():
            established = False
            try:
                await self._refresh_keys()
                async with websockets.connect(self._ws_url(), open_timeout=self.config.open_timeout,
                                              ping_interval=self.config.ping_interval,
                                              ping_timeout=self.config.ping_timeout, max_size=1024 * 1024,
                                              close_timeout=2) as ws:
                    established = await self._until_stopped(self._session(ws))
            except (OSError, TimeoutError, httpx.HTTPError, websockets.exceptions.WebSocketException,
                    _ProtocolFailure) as exc:
                self.status.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("link to the coordinator lost: %s", self.status.last_error)
            self.status.connected = False
            self._write_status()
            if established:
                backoff = self.config.backoff_initial
            if self._stop.is_set():
                break
            delay = backoff * random.uniform(0.5, 1.0)
            backoff = min(backoff * 2, self.config.backoff_max)
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
            except TimeoutError:
                pass

    async def _until_stopped(self, work: Any) -> Any:
        """Run ``work`` until it ends or :meth:`stop` is called (then cancel it, which closes the link)."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            return True
        return task.result()

    async def _receive(self, ws: Any, channel: Channel) -> tuple[str, dict[str, Any]]:
        env = decode(await ws.recv())
        try:
            return channel.open(env, now=self.clock(), verify=es256_verifier(self._coordinator_key))
        except RuleViolation as exc:
            if exc.code == "signature_invalid" and env.get("kid") not in self._keys:
                await self._refresh_keys()  # the coordinator may have rotated its key
                return channel.open(env, now=self.clock(), verify=es256_verifier(self._coordinator_key))
            raise

    async def _session(self, ws: Any) -> bool:
        """One connection: handshake, inventory, then heartbeats and events until it ends. Returns whether
        the handshake completed (which resets the backoff)."""
        first = decode(await asyncio.wait_for(ws.recv(), self.config.open_timeout))
        channel = Channel(str(first.get("ch")), skew=timedelta(seconds=self.config.skew_seconds))
        try:
            type_, _ = channel.open(first, now=self.clock(), verify=es256_verifier(self._coordinator_key))
        except RuleViolation as exc:
            raise _ProtocolFailure(f"the coordinator's challenge does not verify: {exc.message}") from None
        if type_ != "challenge":
            raise _ProtocolFailure(f"expected a challenge, got {type_}")
        lock = asyncio.Lock()

        async def send(kind: str, body: dict[str, Any]) -> int:
            async with lock:
                env = channel.seal(kind, body, now=self.clock(), signer=self.signer)
                await ws.send(encode(env))
                return env["n"]

        await send("hello", {"protocol": PROTOCOL, "venue": self.config.venue, "after": self.status.last_seq,
                             "agent": "evalroom-site-agent"})
        try:
            type_, body = await asyncio.wait_for(self._receive(ws, channel), self.config.open_timeout)
        except RuleViolation as exc:
            raise _ProtocolFailure(exc.message) from None
        if type_ != "welcome":
            raise _ProtocolFailure(f"the coordinator refused the hello: {body}")
        self.status.connected, self.status.connections = True, self.status.connections + 1
        self.status.last_error = None
        self._write_status()
        log.info("connected as %s, resuming after event %d", self.config.venue, self.status.last_seq)
        await send("inventory", self.inventory.model_dump(mode="json"))
        heartbeat = asyncio.create_task(self._heartbeats(send, body["heartbeat_ms"] / 1000))

        async def request(kind: str, request_body: dict[str, Any]) -> dict[str, Any]:
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._waiters[await send(kind, request_body)] = future
            return await asyncio.wait_for(future, self.config.open_timeout * 3)

        if self.media is not None:
            self.media.request = request
        witness = asyncio.create_task(self.witness.run(request, self.config.witness_seconds))
        pending: dict[int, dict[str, Any]] = {}
        if self.config.auto_confirm:
            # An offer recorded in the inbox but not acted on (the agent stopped in between) is answered now;
            # one already answered meanwhile gets a harmless conflict back.
            for offer in self._pending_offers():
                pending[await send("confirm", {"offer_id": offer["offer_id"], "version": offer["version"]})] = offer
        try:
            while True:
                try:
                    type_, body = await self._receive(ws, channel)
                except RuleViolation as exc:
                    raise _ProtocolFailure(exc.message) from None
                if type_ == "event":
                    await self._on_event(body, send, pending)
                elif type_ == "result":
                    await self._on_result(body, send, pending)
                elif type_ == "error":
                    raise _ProtocolFailure(f"{body['error']['code']}: {body['error']['message']}")
        except websockets.exceptions.ConnectionClosed:
            return True
        finally:
            heartbeat.cancel()
            witness.cancel()
            if self.media is not None:
                self.media.request = None
            for future in self._waiters.values():
                if not future.done():
                    future.set_exception(ConnectionError("the site link closed"))
            self._waiters.clear()

    async def _heartbeats(self, send: Callable[..., Any], interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                current = load_inventory(self.config.inventory_file)
            except ValueError as exc:
                log.error("%s (keeping the last good inventory)", exc)
                current = self.inventory
            if current != self.inventory:
                self.inventory = current
                await send("inventory", current.model_dump(mode="json"))
            await send("heartbeat", {})

    async def _on_event(self, item: dict[str, Any], send: Callable[..., Any], pending: dict[int, dict[str, Any]]) -> None:
        if item["seq"] <= self.status.last_seq:
            self.status.duplicates += 1
            log.warning("event %d received twice; dropped", item["seq"])
            self._write_status()
            return
        self._append_inbox(item)  # durable before it is acted on
        self.status.last_seq, self.status.received = item["seq"], self.status.received + 1
        self._write_status()
        offer = item["data"].get("offer")
        log.info("event %d %s", item["seq"], item["kind"])
        if self.media is not None:
            self.media.on_session_event(item)
        if self.config.auto_confirm and offer and offer["state"] == "pending":
            n = await send("confirm", {"offer_id": offer["offer_id"], "version": offer["version"]})
            pending[n] = offer

    async def _on_result(self, body: dict[str, Any], send: Callable[..., Any], pending: dict[int, dict[str, Any]]) -> None:
        waiter = self._waiters.pop(body["ref"], None)
        if waiter is not None:
            if not waiter.done():
                if body["ok"]:
                    waiter.set_result(body)
                else:
                    waiter.set_exception(Refused(f"{body['error']['code']}: {body['error']['message']}"))
            return
        offer = pending.pop(body["ref"], None)
        self.status.results.append(body)
        del self.status.results[:-20]
        self._write_status()
        if not body["ok"]:
            log.warning("coordinator refused message %d: %s", body["ref"], body["error"])
            if offer is not None and body["error"]["code"] == "not_enough_seats":
                await send("decline", {"offer_id": offer["offer_id"], "version": offer["version"],
                                       "reason": "not enough usable seats for this window"})
