"""The member's side of signing, as the software at a seat runs it (the demo, the tests, a seat client).

The key stays at the seat: :class:`SeatSigner` fetches the document, shows its hash (here: checks it), gets
an authorisation with the second factor, signs locally with the key the PIN unlocked, and hands the signature
in (services/signatures.py has the coordinator's side, docs/signing.md the protocol).

:class:`TotpDevice` is the expert's authenticator app: a code per 30-second step. A step's code is accepted
once, so a member signing twice within one step waits for the next code, as a person would; the device
offers the next step's code when the coordinator's window accepts it (one step either side).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pyotp
from pyhanko.sign.signers import Signer

from evalroom.clock import SystemClock
from evalroom.report_pdf import default_font_path, member_field
from signing.cms import sign_detached
from signing.factors import TOTP_STEP_SECONDS, TOTP_WINDOW
from signing.pades import dissent_reason, sign_pdf

__all__ = ["SeatSigner", "SigningRefused", "TotpDevice"]


class SigningRefused(Exception):
    def __init__(self, response: httpx.Response) -> None:
        body = response.json().get("error", {}) if response.headers.get("content-type", "").startswith(
            "application/json") else {}
        super().__init__(f"{response.status_code} {body.get('code')}: {body.get('message')}")
        self.status, self.code, self.details = response.status_code, body.get("code"), body.get("details")


@dataclass
class TotpDevice:
    secret: str
    now: Callable[[], datetime]
    sleep: Callable[[float], None] = time.sleep
    last_step: int | None = None

    def code(self) -> str:
        """The code of the earliest step the coordinator will still take, waiting for one if need be."""
        while True:
            current = int(self.now().timestamp()) // TOTP_STEP_SECONDS
            step = current if self.last_step is None or self.last_step < current else self.last_step + 1
            if step <= current + TOTP_WINDOW:
                self.last_step = step
                return pyotp.TOTP(self.secret, interval=TOTP_STEP_SECONDS).at(step * TOTP_STEP_SECONDS)
            self.sleep((current + 1) * TOTP_STEP_SECONDS - self.now().timestamp() + 0.05)


@dataclass
class SeatSigner:
    """Signs for one member of one session: ``session_url`` is ``.../api/v1/sessions/<id>``."""

    client: httpx.Client
    session_url: str
    headers: dict[str, str]
    signer: Signer
    name: str
    location: str
    totp: TotpDevice | None = None
    webauthn: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """Given the request options (the challenge inside), the authenticator's assertion as JSON."""
    member_id: str = field(default="")
    now: Callable[[], datetime] = field(default=SystemClock().now)
    """The seat's clock: the signing time its signatures carry."""

    def _ok(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise SigningRefused(response)
        return response.json()

    def fetch(self, document: str, phase: str | None = None) -> tuple[bytes, str]:
        params = {"document": document, **({"phase": phase} if phase else {})}
        r = self.client.get(f"{self.session_url}/signing/document", headers=self.headers, params=params)
        if r.status_code >= 400:
            raise SigningRefused(r)
        digest = hashlib.sha256(r.content).hexdigest()
        if digest != r.headers["X-Content-SHA256"]:
            raise ValueError("the document's bytes do not match the hash the coordinator stated")
        return r.content, digest

    def authorise(self, document: str, phase: str | None, digest: str) -> dict[str, Any]:
        ref = {"document": document, "phase": phase, "sha256": digest}
        if self.webauthn is not None:
            challenge = self._ok(self.client.post(f"{self.session_url}/signing/challenges", headers=self.headers,
                                                  json=ref))
            factor = {"kind": "webauthn", "nonce": challenge["nonce"],
                      "assertion": self.webauthn(challenge["options"])}
        elif self.totp is not None:
            factor = {"kind": "totp", "code": self.totp.code()}
        else:
            raise ValueError("no second factor at this seat")
        return self._ok(self.client.post(f"{self.session_url}/signing/authorisations", headers=self.headers,
                                         json={**ref, "factor": factor}))

    def sign_sheet(self, phase: str) -> dict[str, Any]:
        content, digest = self.fetch("sheet", phase)
        auth = self.authorise("sheet", phase, digest)
        cms = sign_detached(content, self.signer, self.now())
        return self._ok(self.client.post(f"{self.session_url}/signatures/sheets", headers=self.headers, json={
            "authorisation": auth["authorisation"], "cms": base64.b64encode(cms).decode()}))

    def sign_report(self, *, dissent: str | None = None, attempts: int = 5) -> dict[str, Any]:
        """Sign the report's current revision; if another member's signature lands first, fetch and sign
        again. A dissenting member signs with the dissent attached."""
        for _ in range(attempts):
            pdf, digest = self.fetch("report")
            auth = self.authorise("report", None, digest)
            signed = sign_pdf(pdf, self.signer, member_field(self.member_id), name=self.name,
                              reason=dissent_reason(dissent) if dissent else "同意评标结果",
                              location=self.location, at=self.now(), font=default_font_path())
            r = self.client.post(f"{self.session_url}/signatures/report", headers={
                **self.headers, "Content-Type": "application/pdf"}, params={"authorisation": auth["authorisation"]},
                content=signed)
            if r.status_code == 409 and r.json()["error"]["code"] == "document_changed":
                continue
            return self._ok(r)
        raise RuntimeError("the report kept changing while signing")
