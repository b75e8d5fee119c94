"""The seat's local signer: the expert's key (a UKey through PKCS#11, or a PIN-protected key store) offered to
the expert's page in the browser, on loopback only — the pattern of the CA vendors' local clients (证书助手).

A browser cannot reach a PKCS#11 token, and the key must never leave the seat; so the page fetches the
document from the coordinator, shows its SHA-256, gets the coordinator's authorisation with the second factor,
and hands the document with the PIN the expert typed to this service, which unlocks the key, signs, and answers
the signature. The page then hands the signature to the coordinator. (The same steps as
:class:`evalroom.signing_client.SeatSigner`, which scripts use; docs/signing.md "Signing from the browser".)

What the service will do is narrow on purpose:

- It listens on 127.0.0.1 only and answers only pages of the coordinator origins it was started with (CORS, and
  the ``Origin`` header is checked on every request, so another web page cannot make it sign).
- Every signature needs the PIN; wrong PINs are counted by the key's own guard (signing/tokens.py) and lock it.
- It signs the bytes it is given only if their SHA-256 is the one the page showed the expert, and it signs
  only the two document kinds of a session: a detached CAdES signature over a sheet, or one PAdES signature
  added to a report PDF (with the dissent as the signature's reason when there is one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

from cryptography import x509
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pyhanko.sign.signers import Signer
from pyhanko.sign.signers.pdf_signer import SigningError

from evalroom.clock import Clock, SystemClock
from evalroom.report_pdf import default_font_path
from signing.cms import sign_detached
from signing.pades import dissent_reason, sign_pdf
from signing.tokens import PinRefused, Pkcs11Token, SoftKeyStore

__all__ = ["DEFAULT_PORT", "KeySource", "Pkcs11Source", "SoftStoreSource", "create_signer_app"]

DEFAULT_PORT = 47300
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024


class KeySource(Protocol):
    """Where the key is: ``unlock(pin)`` yields a signer for the duration of one signature."""

    label: str

    def unlock(self, pin: str) -> AbstractContextManager[Signer]: ...


@dataclass
class SoftStoreSource:
    store: SoftKeyStore

    @property
    def label(self) -> str:
        return f"key store {self.store.path.name}"

    @contextmanager
    def unlock(self, pin: str) -> Iterator[Signer]:
        yield self.store.open(pin)


@dataclass
class Pkcs11Source:
    token: Pkcs11Token
    certificate: x509.Certificate
    chain: Sequence[x509.Certificate]

    @property
    def label(self) -> str:
        return f"PKCS#11 token {self.token.token_label}"

    @contextmanager
    def unlock(self, pin: str) -> Iterator[Signer]:
        with self.token.open(pin, self.certificate, self.chain) as signer:
            yield signer


class SignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["sheet", "report"]
    document: str = Field(max_length=MAX_DOCUMENT_BYTES * 4 // 3 + 4, description="base64 of the bytes to sign")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="the hash the page showed the expert")
    pin: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200, description="report: the signer's name, as on the report")
    location: str = Field(default="", max_length=200, description="report: the signer's venue, shown in their box")
    field: str = Field(default="", pattern=r"^[A-Za-z0-9._-]{0,64}$", description="report: the signature field")
    dissent: str | None = Field(default=None, max_length=20000, description="report: the recorded dissent")


def _error(status: int, code: str, message: str, **details: object) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": [details] if details else []}},
                        status_code=status)


def create_signer_app(source: KeySource, origins: Sequence[str], clock: Clock | None = None) -> FastAPI:
    """The local signer's HTTP app, answering pages of ``origins`` (the coordinator's URLs) only. Signatures
    carry ``clock``'s time (the seat's wall clock by default) as their signing time."""
    clock = clock or SystemClock()
    allowed = {o.rstrip("/") for o in origins}
    app = FastAPI(title="evalroom seat signer", docs_url=None, redoc_url=None, openapi_url=None)

    # Starlette runs the middleware added last first: the origin check wraps CORS, so it covers the preflights
    # CORS answers too. A coordinator's page reaching loopback is Chromium's Private Network Access: the
    # preflight must say loopback agrees.
    app.add_middleware(CORSMiddleware, allow_origins=sorted(allowed), allow_methods=["GET", "POST"],
                       allow_headers=["Content-Type"], allow_private_network=True, max_age=600)

    @app.middleware("http")
    async def only_the_coordinators_pages(request: Request, call_next):  # type: ignore[no-untyped-def]  # noqa: ANN202
        if request.headers.get("origin", "").rstrip("/") not in allowed:
            return _error(403, "origin_refused", "this signer answers only the coordinator's pages")
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_input", "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}"
                                                       for e in exc.errors()))

    @app.get("/v1/status")
    def status() -> dict[str, str]:
        return {"status": "ready", "key": source.label}

    @app.post("/v1/sign")  # a plain def: FastAPI runs it in its threadpool, and sign_pdf runs its own loop
    def sign(body: SignRequest) -> JSONResponse:
        try:
            data = base64.b64decode(body.document, validate=True)
        except (binascii.Error, ValueError):
            return _error(422, "invalid_input", "document: not base64")
        if hashlib.sha256(data).hexdigest() != body.sha256:
            return _error(422, "document_mismatch", "the document is not the one whose hash was shown")
        try:
            with source.unlock(body.pin) as signer:
                if body.kind == "sheet":
                    signature = sign_detached(data, signer, clock.now())
                else:
                    if not (body.name and body.field):
                        return _error(422, "invalid_input", "a report signature needs name and field")
                    reason = dissent_reason(body.dissent) if body.dissent else "同意评标结果"
                    signature = sign_pdf(data, signer, body.field, name=body.name, reason=reason,
                                         location=body.location, at=clock.now(), font=default_font_path())
        except PinRefused as exc:
            return _error(403, "pin_locked" if exc.reason == "locked" else "pin_refused", str(exc),
                          reason=exc.reason, remaining=exc.remaining)
        except (SigningError, ValueError) as exc:
            return _error(422, "cannot_sign", f"the document cannot be signed: {exc}")
        return JSONResponse({"kind": body.kind, "signature": base64.b64encode(signature).decode()})
    return app
