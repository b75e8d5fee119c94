"""The site agent as a witness of the coordinator's transparency log.

Every ``witness_seconds`` the agent fetches the log's newest checkpoint (public API), checks the log's signature
with the key it pinned the first time (kept in ``witness.json`` in its state directory, with the last checkpoint
it cosigned), and asks for a consistency proof from that checkpoint to the new one. Only if the proof verifies
(signing/tlog.py) does it cosign: a C2SP signature line by the venue's own Ed25519 key, named by the venue's
code, sent over the signed site link (``cosign``), which the coordinator adds to the checkpoint's note. A log
that shrank, changed a checkpointed root, or rewrote anything it had checkpointed cannot give that proof: the
agent sends ``log_alarm`` (an event for the supervisors and the admin), keeps its last good checkpoint, and
cosigns nothing until the log is consistent with it again.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.note import NoteError, NoteSigner, NoteVerifier, open_note, parse_checkpoint
from signing.tlog import ProofError, verify_consistency

__all__ = ["Witness"]

log = logging.getLogger("evalroom.site_agent.witness")
Request = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class Witness:
    def __init__(self, venue: str, key: Ed25519PrivateKey, coordinator: str, state_file: Path) -> None:
        self.signer = NoteSigner(venue, key)
        self.coordinator, self.state_file = coordinator.rstrip("/"), state_file
        self.alarmed_at: int | None = None

    def _state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _save(self, state: dict[str, Any]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.state_file)

    async def run(self, request: Request, interval: float) -> None:
        async with httpx.AsyncClient(base_url=self.coordinator, timeout=10) as http:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.check(http, request)
                except (httpx.HTTPError, ValueError, KeyError, ConnectionError, TimeoutError) as exc:
                    log.debug("witness round skipped: %s", exc)

    async def check(self, http: httpx.AsyncClient, request: Request) -> str:
        """One round: ``cosigned``, ``unchanged``, ``empty`` or ``alarm``."""
        state = self._state()
        if "vkey" not in state:  # trust on first use, then pinned
            state["vkey"] = (await http.get("/api/v1/log/key")).raise_for_status().text.strip()
            self._save(state)
        verifier = NoteVerifier.from_vkey(state["vkey"])
        response = await http.get("/api/v1/log/checkpoint")
        if response.status_code == 404:
            return "empty"
        note = response.raise_for_status().text
        try:
            checkpoint = parse_checkpoint(open_note(note, verifier))
        except NoteError as exc:
            return await self._alarm(request, state.get("size", 0), f"the checkpoint does not verify: {exc}")
        size, root = state.get("size", 0), base64.b64decode(state["root"]) if "root" in state else None
        if checkpoint.size < size:
            return await self._alarm(request, checkpoint.size, f"the log shrank from {size} to {checkpoint.size}")
        if checkpoint.size == size:
            if checkpoint.root != root:
                return await self._alarm(request, size, "a checkpointed size now has another root")
            return "unchanged"
        if root is not None:
            proof = (await http.get("/api/v1/log/proofs/consistency",
                                    params={"from": size, "to": checkpoint.size})).raise_for_status().json()
            try:
                verify_consistency(size, checkpoint.size, [base64.b64decode(p) for p in proof["proof"]], root,
                                   checkpoint.root)
            except ProofError as exc:
                return await self._alarm(request, checkpoint.size,
                                         f"not consistent with the checkpoint of size {size} cosigned before: {exc}")
        text = checkpoint.text()
        await request("cosign", {"size": checkpoint.size, "root": base64.b64encode(checkpoint.root).decode(),
                                 "signature": self.signer.line(text.encode()).rstrip("\n")})
        self._save({**state, "size": checkpoint.size, "root": base64.b64encode(checkpoint.root).decode()})
        self.alarmed_at = None
        return "cosigned"

    async def _alarm(self, request: Request, size: int, detail: str) -> str:
        log.error("transparency log: %s", detail)
        if self.alarmed_at != size:  # once per checkpoint, not every round
            await request("log_alarm", {"size": size, "detail": detail[:1000]})
            self.alarmed_at = size
        return "alarm"
