"""Verifying signed files offline, for ``evalroom verify``: a report PDF (every PAdES signature) or a score
sheet (its canonical JSON bytes and the detached CAdES signature beside it, ``<sheet>.p7s``).

The trust comes from a trust bundle (signing/trust.py, ``load_bundle``); time-stamps are trusted when they
chain to a recognised region's root (the coordinator's own hierarchy is one of the regions of the bundle).
Each signature is printed with its signer, region, time, and intact / valid / trusted / revocation; the
verdict is OK only if every signature is all of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from signing.cms import verify_detached
from signing.pades import verify_pdf
from signing.trust import TrustStore

__all__ = ["FileReport", "verify_file"]


@dataclass(frozen=True)
class FileReport:
    kind: str
    lines: tuple[str, ...]
    ok: bool


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def verify_file(path: Path, trust: TrustStore, at: dt.datetime, signature: Path | None = None) -> FileReport:
    data = path.read_bytes()
    if data.startswith(b"%PDF"):
        checks = verify_pdf(data, trust, trust.recognised_roots(), at)
        lines = []
        for i, c in enumerate(checks, 1):
            when = c.timestamp.isoformat() if c.timestamp else "no time-stamp (judged at the given time)"
            lines.append(f"signature {i} ({c.field}): {c.signer}; region {c.region or '?'}; time {when}")
            lines.append(f"  intact {_yes(c.intact)}, valid {_yes(c.valid)}, trusted {_yes(c.trusted)}, "
                         f"revocation {c.revocation}, covers {c.coverage.replace('_', ' ')}")
            lines.extend(f"  problem: {p}" for p in c.problems)
        if not checks:
            lines.append("no signature in this PDF")
        return FileReport("report", tuple(lines), bool(checks) and all(c.ok for c in checks))
    sig_path = signature or path.with_name(path.name + ".p7s")
    if not sig_path.exists():
        return FileReport("sheet", (f"no signature file {sig_path.name} beside the sheet",), False)
    check = verify_detached(data, sig_path.read_bytes(), trust, at)
    lines = [f"signature 1: {check.signer or '?'}; region {check.region or '?'}; signing time (as claimed) "
             f"{check.signing_time.isoformat() if check.signing_time else '?'}",
             f"  intact {_yes(check.intact)}, valid {_yes(check.valid)}, trusted {_yes(check.trusted)}, "
             f"revocation {check.revocation}",
             *(f"  problem: {p}" for p in check.problems)]
    return FileReport("sheet", tuple(lines), check.ok)
