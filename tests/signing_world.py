"""Signing on top of session_world: both regions' CA hierarchies registered and recognised, a certificate for
every member from their own region, a one-time-code authenticator registered through the API, and a
:class:`~evalroom.signing_client.SeatSigner` per member that signs the way a seat does.

The TOTP device's "waiting for the next code" advances the test clock instead of sleeping, with both venues'
heartbeats arriving meanwhile (their site agents would keep sending them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from committee_world import CommitteeWorld, members
from conftest import ok
from cryptography.hazmat.primitives.serialization import Encoding

from evalroom.services import site_link
from evalroom.signing_client import SeatSigner, TotpDevice
from evalroom.storage.models import Region
from signing.cms import software_signer
from signing.pki import Issued, RegionCA, issue_crl, issue_region_ca, issue_signer

API = "/api/v1"


def pem(*objs: object) -> str:
    return b"".join(o.public_bytes(Encoding.PEM) for o in objs).decode()  # type: ignore[attr-defined]


@dataclass
class Pki:
    cas: dict[str, RegionCA]
    """Region id → its CA hierarchy."""
    codes: dict[str, str]
    """Region id → region code."""


def register_region(w: CommitteeWorld, region_id: str, ca: RegionCA, revoked: list[Issued] = ()) -> None:  # type: ignore[assignment]
    now = w.ctx.clock.now()
    ok(w.client.post(f"{API}/regions/{region_id}/ca-certificates", headers=w.admin(),
                     json={"pem": pem(ca.root.certificate, ca.intermediate.certificate)}), 201)
    for issuer, gone in ((ca.root, []), (ca.intermediate, revoked)):
        ok(w.client.post(f"{API}/regions/{region_id}/crls", headers=w.admin(), json={"pem": pem(issue_crl(
            issuer, [(r.certificate, now - dt.timedelta(minutes=1)) for r in gone], now - dt.timedelta(minutes=2),
            now + dt.timedelta(days=7)))}), 201)


def setup_pki(w: CommitteeWorld, *, recognise: bool = True) -> Pki:
    """Both regions' hierarchies (ECDSA P-256), registered with fresh CRLs, and on the recognition list."""
    now = w.ctx.clock.now()
    with w.ctx.store.read() as s:
        codes = {r: s.get(Region, r).code for r in (w.host_region_id, w.guest_region_id)}
    pki = Pki({r: issue_region_ca(code, now - dt.timedelta(days=1)) for r, code in codes.items()}, codes)
    for region_id, ca in pki.cas.items():
        register_region(w, region_id, ca)
        if recognise:
            ok(w.client.patch(f"{API}/regions/{region_id}", headers=w.admin(), json={"recognised": True}))
    return pki


def region_of(w: CommitteeWorld, member: dict[str, object]) -> str:
    return w.host_region_id if member["venue_id"] == w.host_venue_id else w.guest_region_id


def certificate_for(w: CommitteeWorld, ca: RegionCA, name: str, serial: str, *, days: int = 365) -> Issued:
    """Valid from yesterday for ``days`` days (a negative number: expired already)."""
    now = w.ctx.clock.now()
    start = now - dt.timedelta(days=1 if days > 0 else 1 - days)
    return issue_signer(ca, name, serial, start, now + dt.timedelta(days=days))


def wait(w: CommitteeWorld, seconds: float) -> None:
    """Let ``seconds`` pass in steps shorter than a heartbeat, so no venue is ever swept offline."""
    while seconds > 0:
        for venue in (w.host_venue_id, w.guest_venue_id):
            site_link.record_heartbeat(w.ctx.store, venue, f"link-{venue[:8]}")
        step = min(seconds, w.ctx.settings.site_heartbeat_seconds / 2)
        w.ctx.clock.advance(dt.timedelta(seconds=step))
        seconds -= step


def seat_signer(w: CommitteeWorld, member_id: str, headers: dict[str, str], issued: Issued, ca: RegionCA,
                *, device: TotpDevice | None = None) -> SeatSigner:
    """A seat that signs for the member with ``issued``'s key; registers a TOTP authenticator first unless
    the member's ``device`` is given."""
    if device is None:
        secret = ok(w.client.post(w.url("/factors/totp"), headers=headers), 201)["secret"]
        device = TotpDevice(secret, now=w.ctx.clock.now, sleep=lambda seconds: wait(w, seconds))
    name = issued.certificate.subject.rfc4514_string()
    return SeatSigner(w.client, w.url(), headers, software_signer(issued.certificate, issued.key,  # type: ignore[arg-type]
                                                                    [ca.intermediate.certificate]),
                      name=name, location="seat", totp=device, member_id=member_id, now=w.ctx.clock.now)


def seat_signers(w: CommitteeWorld, pki: Pki, experts: dict[str, dict[str, str]]) -> dict[str, SeatSigner]:
    """A seat signer with a certificate of the member's own region for every seated member."""
    seated = {m["member_id"]: m for m in members(w, "seated")}
    signers = {}
    for member_id, headers in experts.items():
        m = seated[member_id]
        ca = pki.cas[region_of(w, m)]
        signers[member_id] = seat_signer(w, member_id, headers, certificate_for(w, ca, m["name"], f"E-{member_id[:8]}"),
                                         ca)
    return signers


def sign_all(signers: dict[str, SeatSigner], dissents: dict[str, str] | None = None, *,
             refuser: str | None = None) -> None:
    """Every member signs their newest sheets, and the report (a dissenter with the dissent attached), except
    ``refuser``, who signs the sheets only."""
    for signer in signers.values():
        for phase in ("review", "detailed_review"):
            signer.sign_sheet(phase)
    for member_id, signer in signers.items():
        if member_id != refuser:
            signer.sign_report(dissent=(dissents or {}).get(member_id))


def sign_everything_and_seal(w: CommitteeWorld, signers: dict[str, SeatSigner],
                             dissents: dict[str, str] | None = None) -> dict[str, object]:
    """Every member signs their newest sheets and the report (a dissenter with the dissent attached); the
    host seals. Returns the seal's record."""
    sign_all(signers, dissents)
    return ok(w.client.post(w.url("/report/seal"), headers=w.host_op()), 201)
